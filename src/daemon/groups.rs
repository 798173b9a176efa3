//! The process groups, addressed by ids that survive change: a group keeps
//! its [`GroupId`] until it is removed, and an id of a removed group never
//! finds the group added after it (generational slots).  A process is
//! its group's id plus its place in the group, which never changes (a
//! group's processes are fixed when it is added).

use crate::config::GroupConfig;
use crate::events::pool::PoolBuffer;
use crate::process::Process;

/// A process group (`[program:x]`, `[group:x]`, ...) and its processes.
pub struct Group {
    pub config: GroupConfig,
    pub processes: Vec<Process>,
    /// For `[eventlistener:x]`: the pool's event buffer.
    pub pool: Option<PoolBuffer>,
}

/// A group, for as long as it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupId {
    slot: u32,
    generation: u32,
}

/// A process: its group and its place there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcId {
    pub group: GroupId,
    index: u32,
}

struct Slot {
    generation: u32,
    group: Option<Group>,
}

/// Every group, in priority order (lowest first, ties in order added).
#[derive(Default)]
pub struct Groups {
    slots: Vec<Slot>,
    order: Vec<GroupId>,
}

impl Groups {
    pub fn get(&self, id: GroupId) -> Option<&Group> {
        self.slots
            .get(id.slot as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.group.as_ref())
    }

    pub fn get_mut(&mut self, id: GroupId) -> Option<&mut Group> {
        self.slots
            .get_mut(id.slot as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.group.as_mut())
    }

    pub fn proc(&self, id: ProcId) -> Option<&Process> {
        self.get(id.group)?.processes.get(id.index as usize)
    }

    pub fn proc_mut(&mut self, id: ProcId) -> Option<&mut Process> {
        self.get_mut(id.group)?.processes.get_mut(id.index as usize)
    }

    /// The process and its group.
    pub fn with_group(&self, id: ProcId) -> Option<(&Group, &Process)> {
        let g = self.get(id.group)?;
        Some((g, g.processes.get(id.index as usize)?))
    }

    /// Add a group after those of lower or equal priority.
    pub fn insert(&mut self, group: Group) -> GroupId {
        let priority = group.config.priority;
        let free = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.group.is_none());
        let id = match free {
            Some((slot, s)) => {
                s.generation = s.generation.wrapping_add(1);
                s.group = Some(group);
                GroupId {
                    slot: slot as u32,
                    generation: s.generation,
                }
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    group: Some(group),
                });
                GroupId {
                    slot: (self.slots.len() - 1) as u32,
                    generation: 0,
                }
            }
        };
        let pos = self
            .order
            .iter()
            .position(|&o| self.get(o).is_some_and(|g| g.config.priority > priority))
            .unwrap_or(self.order.len());
        self.order.insert(pos, id);
        id
    }

    /// Take a group out; its id (and its processes' ids) find nothing after.
    pub fn remove(&mut self, id: GroupId) -> Option<Group> {
        let group = self
            .slots
            .get_mut(id.slot as usize)
            .filter(|s| s.generation == id.generation)?
            .group
            .take()?;
        self.order.retain(|&o| o != id);
        Some(group)
    }

    pub fn clear(&mut self) {
        for s in &mut self.slots {
            if s.group.take().is_some() {
                s.generation = s.generation.wrapping_add(1);
            }
        }
        self.order.clear();
    }

    /// Group ids in priority order.
    pub fn ids(&self) -> Vec<GroupId> {
        self.order.clone()
    }

    /// Groups in priority order.
    pub fn iter(&self) -> impl Iterator<Item = (GroupId, &Group)> {
        self.order
            .iter()
            .filter_map(|&id| self.get(id).map(|g| (id, g)))
    }

    /// Every group, mutable, in no particular order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Group> {
        self.slots.iter_mut().filter_map(|s| s.group.as_mut())
    }

    /// Every process, with its id, groups in priority order.
    pub fn processes(&self) -> impl Iterator<Item = (ProcId, &Process)> {
        self.iter().flat_map(|(gid, g)| {
            g.processes
                .iter()
                .enumerate()
                .map(move |(i, p)| (ProcId::new(gid, i), p))
        })
    }

    /// The ids of a group's processes.
    pub fn proc_ids(&self, gid: GroupId) -> Vec<ProcId> {
        let n = self.get(gid).map_or(0, |g| g.processes.len());
        (0..n).map(|i| ProcId::new(gid, i)).collect()
    }

    pub fn find(&self, name: &str) -> Option<GroupId> {
        self.iter()
            .find(|(_, g)| g.config.name == name)
            .map(|(id, _)| id)
    }

    /// The process `name` of group `gid`.
    pub fn find_in(&self, gid: GroupId, name: &str) -> Option<ProcId> {
        let i = self
            .get(gid)?
            .processes
            .iter()
            .position(|p| p.config.name == name)?;
        Some(ProcId::new(gid, i))
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl ProcId {
    fn new(group: GroupId, index: usize) -> ProcId {
        ProcId {
            group,
            index: index as u32,
        }
    }

    /// Its place in its group.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GroupConfig, GroupKind};

    fn group(name: &str, priority: i64) -> Group {
        Group {
            config: GroupConfig {
                name: name.into(),
                priority,
                kind: GroupKind::Program,
                processes: Vec::new(),
            },
            processes: Vec::new(),
            pool: None,
        }
    }

    fn names(g: &Groups) -> Vec<&str> {
        g.iter().map(|(_, g)| g.config.name.as_str()).collect()
    }

    #[test]
    fn ids_survive_removal_of_others_and_die_with_their_group() {
        let mut g = Groups::default();
        let a = g.insert(group("a", 999));
        let b = g.insert(group("b", 1));
        let c = g.insert(group("c", 999));
        assert_eq!(names(&g), ["b", "a", "c"], "priority order, ties as added");
        assert!(g.remove(b).is_some());
        assert_eq!(g.get(a).map(|x| x.config.name.as_str()), Some("a"));
        assert_eq!(g.get(c).map(|x| x.config.name.as_str()), Some("c"));
        // The freed slot is reused, but the old id does not find the newcomer.
        let d = g.insert(group("d", 5));
        assert!(g.get(b).is_none());
        assert!(g.remove(b).is_none());
        assert_eq!(g.get(d).map(|x| x.config.name.as_str()), Some("d"));
        assert_eq!(names(&g), ["d", "a", "c"]);
        assert_eq!(g.find("c"), Some(c));
        g.clear();
        assert!(g.get(a).is_none() && g.is_empty());
        let e = g.insert(group("e", 1));
        assert!(g.get(a).is_none() && g.get(c).is_none() && g.get(d).is_none());
        assert!(g.get(e).is_some());
    }

    #[test]
    fn a_stale_process_id_finds_nothing() {
        let mut g = Groups::default();
        let a = g.insert(group("a", 1));
        let stale = ProcId::new(a, 0);
        assert!(g.proc(stale).is_none(), "no process 0 in an empty group");
        g.remove(a);
        g.insert(group("a", 1));
        assert!(g.proc(stale).is_none());
        assert!(g.proc_ids(a).is_empty());
    }
}
