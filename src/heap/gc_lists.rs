//! The interpreters of the runtime and their GC generation lists: every tracked container.
//!
//! List-head offsets are validated at run time (a head's `next` must point back to it through
//! `prev`), because they drift between patch releases (3.13.x under GCC moved them by 4 bytes).

use super::objects::View;
use super::WalkError;
use crate::interpreter::layout::{GcState, InterpretersHead, RuntimeLayout};
use crate::interpreter::Interpreter;

/// At most this many interpreters are followed (guards a corrupt `next` chain).
const MAX_INTERPRETERS: usize = 256;

/// Addresses of every `PyInterpreterState` of the runtime, main first.
pub fn interpreters(view: &View, interp: &Interpreter) -> Result<Vec<u64>, WalkError> {
    let rt: &RuntimeLayout = &view.layout.runtime;
    let head = match rt.interpreters {
        InterpretersHead::Runtime(off) => interp.runtime + off,
        InterpretersHead::Static => interp.interp_head_static.ok_or_else(|| {
            WalkError::Corrupt("`interp_head` is not in the binary's symbols (stripped?)".into())
        })?,
    };
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

pub fn gc_heads(view: &View, interp: &Interpreter, state: u64) -> Result<GcHeads, WalkError> {
    let gc = &view.layout.gc;
    let gc_state = match view.layout.runtime.gc_state {
        GcState::Interpreter(off) => state + off,
        GcState::Runtime(off) => interp.runtime + off,
        GcState::Generation0 => interp.gc_generation0.map(|p| view.word(p)).unwrap_or(0),
    };
    let state = gc_state;
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
