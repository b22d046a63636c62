//! The interpreters of the runtime and their GC generation lists: every tracked container.
//!
//! List-head offsets are validated at run time (a head's `next` must point back to it through
//! `prev`), because they drift between patch releases (3.13.x under GCC moved them by 4 bytes).

use super::objects::View;
use super::WalkError;
use crate::interpreter::layout::{Collecting, GcState, InterpretersHead, RuntimeLayout};
use crate::interpreter::Interpreter;
use crate::memory::{Memory, MemoryError};

/// At most this many interpreters are followed (guards a corrupt `next` chain).
const MAX_INTERPRETERS: usize = 256;

/// Where the pointer to the first interpreter state is.
fn interpreters_head(interp: &Interpreter) -> Result<u64, WalkError> {
    match interp.layout.runtime.interpreters {
        InterpretersHead::Runtime(off) => Ok(interp.runtime + off),
        InterpretersHead::Static => interp.interp_head_static.ok_or_else(|| {
            WalkError::Corrupt("`interp_head` is not in the binary's symbols (stripped?)".into())
        }),
    }
}

/// Addresses of every `PyInterpreterState` of the runtime, main first.
pub fn interpreters(view: &View, interp: &Interpreter) -> Result<Vec<u64>, WalkError> {
    let rt: &RuntimeLayout = &view.layout.runtime;
    let head = interpreters_head(interp)?;
    let mut out = Vec::new();
    let mut state = view.word(head);
    while state != 0 && out.len() < MAX_INTERPRETERS {
        if !view.image.contains(state, 8) || out.contains(&state) {
            return Err(WalkError::Corrupt(format!(
                "interpreter list broken at {state:#x}"
            )));
        }
        out.push(state);
        state = view.word(state + rt.interp_next);
    }
    if out.is_empty() {
        return Err(WalkError::Corrupt(
            "no interpreter state (the interpreter is starting up or shutting down)".into(),
        ));
    }
    out.reverse();
    Ok(out)
}

/// A list head is valid if `head.next.prev == head` (flag bits masked).
fn valid_head(view: &View, head: u64) -> bool {
    let next = view.word(head) & !3;
    next != 0 && view.word(next + 8) & !3 == head
}

/// The three generation heads and the permanent generation head (3.7+) of one interpreter.
pub struct GcHeads {
    pub generations: [u64; 3],
    pub permanent: Option<u64>,
}

/// The GC state of the interpreter at `state` (2.7/3.6: the generation array `_PyGC_generation0`
/// points to), reading pointers with `word`.
fn gc_state(interp: &Interpreter, state: u64, word: impl Fn(u64) -> u64) -> u64 {
    match interp.layout.runtime.gc_state {
        GcState::Interpreter(off) => state + off,
        GcState::Runtime(off) => interp.runtime + off,
        GcState::Generation0 => interp.gc_generation0.map(word).unwrap_or(0),
    }
}

/// Whether the collector of any interpreter is in the middle of a collection, read from `mem`
/// (the stopped process, or a copy of it). Its generation lists are then not lists one can
/// walk: the young ones are spliced into the one being collected, whose back links hold
/// reference counts, and the objects found unreachable sit on a list on the collector's stack.
/// `None` when the build does not say (a stripped 2.7/3.6 has no `collecting` symbol).
pub fn collection_in_progress(
    mem: &dyn Memory,
    interp: &Interpreter,
) -> Result<Option<bool>, MemoryError> {
    let flag = |at: u64| mem.read_u32(at).map(|v| v != 0);
    match interp.layout.gc.collecting {
        Collecting::Static => interp.gc_collecting_static.map(flag).transpose(),
        Collecting::InState(offset) => {
            let Ok(head) = interpreters_head(interp) else {
                return Ok(None);
            };
            let rt = &interp.layout.runtime;
            let mut state = mem.read_u64(head)?;
            let mut seen = 0;
            while state != 0 && seen < MAX_INTERPRETERS {
                let gc = gc_state(interp, state, |p| mem.read_u64(p).unwrap_or(0));
                if flag(gc + offset)? {
                    return Ok(Some(true));
                }
                if matches!(rt.gc_state, GcState::Runtime(_)) {
                    break;
                }
                state = mem.read_u64(state + rt.interp_next)?;
                seen += 1;
            }
            Ok(Some(false))
        }
    }
}

pub fn gc_heads(view: &View, interp: &Interpreter, state: u64) -> Result<GcHeads, WalkError> {
    let gc = &view.layout.gc;
    let state = gc_state(interp, state, |p| view.word(p));
    let permanent = gc.permanent.map(|p| state + p);
    for offsets in std::iter::once(gc.generations).chain(gc.generations_alt) {
        let heads = offsets.map(|o| state + o);
        if heads.iter().all(|&h| valid_head(view, h)) {
            return Ok(GcHeads {
                generations: heads,
                permanent,
            });
        }
    }
    Err(WalkError::Corrupt(format!(
        "no valid GC generation lists at {state:#x}"
    )))
}

/// Append the objects of the list at `head` to `out`.
pub fn list_objects(view: &View, head: u64, out: &mut Vec<u64>) -> Result<(), WalkError> {
    let header = view.layout.gc.head_size;
    let mut prev = head;
    let mut node = view.word(head) & !3;
    let limit = view.image.stats().bytes / 16;
    let mut count = 0u64;
    while node != head {
        // Every node must be readable and point back to the one before it.
        if node == 0
            || !view.image.contains(node, header as usize + 16)
            || view.word(node + 8) & !3 != prev
        {
            return Err(WalkError::Corrupt(format!(
                "GC list at {head:#x} is broken after {count} objects (at {node:#x})"
            )));
        }
        out.push(node + header);
        prev = node;
        node = view.word(node) & !3;
        count += 1;
        if count > limit {
            return Err(WalkError::Corrupt(format!("GC list at {head:#x} loops")));
        }
    }
    Ok(())
}
