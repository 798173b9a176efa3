//! Integration tests: they run the real `supervisord` binary.
