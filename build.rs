//! Build step: the web UI's script and style sheet, gzip-compressed for
//! embedding in the binary (about a third of their size), reproducibly
//! (no time stamp, no file name in the header).

use std::io::Write;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ["app.js", "app.css"] {
        let src = format!("src/daemon/web/{name}");
        println!("cargo:rerun-if-changed={src}");
        let data = std::fs::read(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), flate2::Compression::best());
        gz.write_all(&data).expect("compress in memory");
        let bytes = gz.finish().expect("compress in memory");
        std::fs::write(format!("{out}/{name}.gz"), bytes).expect("write to OUT_DIR");
    }
}
