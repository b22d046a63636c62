//! The traversal: breadth first from the interpreter's roots (so that the first parent of
//! every object lies on a shortest retainer path), then from every GC-list object no root
//! reached; each candidate pointer is validated as an object before it is followed.
//!
//! The breadth-first levels are processed by two threads when they are big: the walk is bound
//! by memory latency, which a second core hides as well as it would a second walk. Each thread
//! keeps its own cache of types and labels; the shared tables are locked only to add to them.
//! While the first levels (small, one thread) are walked from the roots, the helper thread
//! reads the GC lists, whose objects seed the last part of the walk.

use std::sync::{Arc, Mutex};

use super::address_set::{AddressSet, Slot, Slots};
use super::edges::{index_label, label_key, Edge, KeyLabels, LabelKey, Labeler};
use super::garbage::find_garbage;
use super::gc_lists::{gc_heads, interpreters, list_objects, GcHeads};
use super::hashing::{self, FastMap};
use super::objects::View;
use super::order::{GcSeeds, Walked};
use super::referents::{full_extra_referents, gc_referents};
use super::sizes::getsizeof;
use super::types::{TypeInfo, TypeTable};
use super::{Heap, Mode, Record, TypeTally, WalkError, NO_PARENT};
use crate::interpreter::layout::{
    self as L, CurrentFrame, DictKeysLayout, Frames, InterpFrameLayout, RefcountRule, GC_AGE_OLDEST,
};
use crate::interpreter::Interpreter;
use crate::memory::image::Image;
use crate::parallel::lock;

/// Is the reference-count word plausible for a live object? (Rejects stale pointers to freed
/// memory, whose first word is then a free-list pointer.)
#[inline]
fn plausible_refcount(rule: RefcountRule, word: u64) -> bool {
    match rule {
        RefcountRule::Plain => (1..1 << 40).contains(&word),
        // u32 count, u16 overflow (unused by GIL builds), u16 flags: 1 immortal, 4 static.
        RefcountRule::SplitWithFlags => {
            word as u32 != 0
                && (word >> 32) & 0xffff == 0
                && matches!(word >> 48, 0 | 1 | 3 | 5 | 7)
        }
    }
}

/// How many queued candidates ahead of the one being processed the walk asks the CPU to fetch:
/// the walk is bound by memory latency (objects are scattered over the copy), and the
/// breadth-first queue says which object comes next long before it is needed.
const PREFETCH_DISTANCE: usize = 16;

/// Threads that walk a big level: this one and the process's helper thread
/// ([`crate::parallel`]: two cores at most).
const THREADS: usize = 2;

/// Levels smaller than this are walked by one thread (starting a thread costs more).
const PARALLEL_MIN: usize = 4 * CHUNK;

/// Candidates a thread takes at a time from a level.
const CHUNK: usize = 2048;

/// The most queued records processed before what they found is queued in turn: the found
/// candidates of a whole level (600 K for 1.2 M objects, 7 MB) would be memory held twice,
/// in the threads' buffers and in the records. The queue stays first in, first out, so the
/// objects and their parents do not change. A round of a copy keeps both threads busy (32
/// chunks); one of a live image (low-memory mode, one thread) is smaller.
const COPY_ROUND: usize = 32 * CHUNK;
const LIVE_ROUND: usize = 8 * CHUNK;

/// At most this many threads of an interpreter, and frames of a thread, are followed for the
/// roots of full mode (guards against a corrupt or cyclic list); a cut is reported as a warning.
const MAX_THREADS: usize = 4096;
const MAX_FRAME_DEPTH: usize = 100_000;

/// A pointer found in a processed object, waiting in the breadth-first queue to be validated as
/// an object and processed.
#[derive(Clone, Copy)]
struct Candidate {
    slot: Slot,
    /// Index of the referring object's record, or [`NO_PARENT`].
    parent: u32,
    label: u32,
}

impl Candidate {
    /// Its record while it waits in the queue.
    fn pending(self) -> Record {
        Record {
            slot: self.slot,
            size: 0,
            kind: Record::PENDING,
            parent: self.parent,
            label: self.label,
        }
    }
}

/// What the walk's threads share.
struct Shared<'a> {
    view: View<'a>,
    mode: Mode,
    /// Keep the edges the walk does not take, for the dominator tree: not on a live image
    /// (low-memory mode leaves the dominators out: 12 bytes per edge, 40 per object).
    cross_edges: bool,
    visited: AddressSet,
    /// With `cross_edges`: the immortal objects processed so far (3.12+), which the
    /// interpreter holds like static types (see [`held_by_interpreter`]).
    immortal: Option<AddressSet>,
    types: Mutex<TypeTable>,
    labels: Mutex<Labeler<'a>>,
    /// The interpreters' interned-strings dicts: an edge from one is labelled
    /// `.<element>`, never with the string (which may be any constant of the program).
    interned: Vec<u64>,
}

/// One thread's cache of the shared type table.
#[derive(Default)]
struct TypeCache {
    type_ids: FastMap<u64, Option<u32>>,
    type_infos: Vec<Option<Arc<TypeInfo>>>,
}

impl TypeCache {
    /// The id of the type at `addr`, if it is a valid type.
    #[inline]
    fn resolve(&mut self, shared: &Shared, addr: u64) -> Option<u32> {
        if let Some(&id) = self.type_ids.get(&addr) {
            return id;
        }
        let mut table = lock(&shared.types);
        let id = table.resolve(&shared.view, addr);
        if let Some(id) = id {
            let slot = id as usize;
            if self.type_infos.len() <= slot {
                self.type_infos.resize(slot + 1, None);
            }
            self.type_infos[slot] = Some(table.shared(id));
        }
        self.type_ids.insert(addr, id);
        id
    }

    /// The description of a type this thread resolved.
    #[inline]
    fn info(&self, id: u32) -> &TypeInfo {
        self.type_infos[id as usize]
            .as_deref()
            .expect("a type is resolved before it is used")
    }
}

/// One thread's cache of the shared label table.
#[derive(Default)]
struct LabelCache {
    label_ids: FastMap<LabelKey, u32>,
}

impl LabelCache {
    #[inline]
    fn label(&mut self, shared: &Shared, parent: u64, ty: &TypeInfo, edge: Edge) -> u32 {
        if let Some(id) = index_label(edge) {
            return id;
        }
        let edge = if shared.interned.contains(&parent) {
            Edge::Element
        } else {
            edge
        };
        let key = label_key(&shared.view, parent, ty, edge);
        if let Some(&id) = self.label_ids.get(&key) {
            return id;
        }
        let id = lock(&shared.labels).id(key, ty);
        self.label_ids.insert(key, id);
        id
    }
}

/// One walking thread.
#[derive(Default)]
struct WalkThread {
    types: TypeCache,
    labels: LabelCache,
    /// Candidates this thread found in a level, and the span of each chunk it took (chunk
    /// index, start, end).
    found: Vec<Candidate>,
    spans: Vec<(usize, usize, usize)>,
    /// Sizes too big for a record, by slot.
    big_sizes: Vec<(Slot, u64)>,
    /// Edges to objects found before (for the dominator tree): from a record
    /// ([`NO_PARENT`]: from the root above all roots) to a slot.
    cross: Vec<(u32, Slot)>,
}

impl WalkThread {
    /// Validate and process the pending `records` (numbered from `first`): fill in the type and
    /// size of each valid object (mark the others [`Record::NOT_AN_OBJECT`]), and queue its
    /// referents in `next`.
    fn process(
        &mut self,
        shared: &Shared,
        records: &mut [Record],
        first: u32,
        next: &mut Vec<Candidate>,
    ) {
        let view = &shared.view;
        let slots = shared.visited.slots();
        for k in 0..records.len() {
            if let Some(ahead) = records.get(k + PREFETCH_DISTANCE) {
                view.image.prefetch(slots.address(ahead.slot));
            }
            let record = &mut records[k];
            let addr = slots.address(record.slot);
            record.kind = Record::NOT_AN_OBJECT;
            // The header, found once: reference count and type.
            let Some(header) = view.image.array::<16>(addr) else {
                continue;
            };
            let word =
                |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or([0; 8]));
            if !plausible_refcount(view.layout.refcount, word(0)) {
                continue;
            }
            let Some(type_id) = self.types.resolve(shared, word(L::OB_TYPE as usize)) else {
                continue;
            };
            if let Some(immortal) = &shared.immortal {
                if is_immortal(view.layout.refcount, word(0)) || view.image.is_static_data(addr) {
                    immortal.insert_slot(record.slot);
                    self.cross.push((NO_PARENT, record.slot));
                }
            }
            let ty = self.types.info(type_id);
            let (size, exact) = getsizeof(view, addr, ty);
            record.size = match u32::try_from(size) {
                Ok(size) if size != Record::BIG => size,
                _ => {
                    self.big_sizes.push((record.slot, size));
                    Record::BIG
                }
            };
            record.kind = if exact {
                type_id
            } else {
                type_id | Record::APPROXIMATE
            };
            // Each referent is queued as it is found (a list of a million items needs no
            // buffer of its own), unless it is not a possible object or was seen before.
            let index = first + k as u32;
            let labels = &mut self.labels;
            let cross = &mut self.cross;
            let mut queue = |child: u64, edge: Edge| {
                if child == 0 || !child.is_multiple_of(8) {
                    return;
                }
                match shared.visited.insert_inside(child) {
                    Some((slot, true)) => next.push(Candidate {
                        slot,
                        parent: index,
                        label: labels.label(shared, addr, ty, edge),
                    }),
                    // Seen before: an edge the dominator tree needs too; not one to a static
                    // type, which the interpreter holds (below, `held_by_interpreter`): in full
                    // mode every object has an edge to its type, most of them static.
                    Some((slot, false))
                        if shared.cross_edges
                            && child != addr
                            && (child != ty.address || ty.is_heap())
                            && !shared.immortal.as_ref().is_some_and(|i| i.contains(slot)) =>
                    {
                        cross.push((index, slot))
                    }
                    _ => {}
                }
            };
            if ty.is_gc_object(view, addr) {
                gc_referents(view, addr, ty, shared.mode == Mode::Full, &mut queue);
            }
            if shared.mode == Mode::Full {
                full_extra_referents(view, addr, ty, &mut queue);
            }
        }
    }
}

/// The walk's state.
struct Walker<'a> {
    shared: Shared<'a>,
    threads: Vec<WalkThread>,
    /// One record per candidate, in breadth-first order: processed ones (objects, or
    /// [`Record::NOT_AN_OBJECT`]), then the queue ([`Record::PENDING`]). The queue is the
    /// records themselves, so that it costs no memory of its own.
    records: Vec<Record>,
    /// Records before this one are processed.
    processed: usize,
    /// The most records processed at a time: [`COPY_ROUND`] or [`LIVE_ROUND`].
    round: usize,
    /// With [`Keep::Counts`], the objects whose records were folded away, by type id; while
    /// `folding`, processed records are folded (up to `folded_upto`) and dropped.
    folded: Vec<TypeTally>,
    folding: bool,
    folded_upto: usize,
    /// Where the roots were cut short (thread and frame caps).
    warnings: Vec<String>,
}

impl Walker<'_> {
    /// [`Keep::Counts`]: add the processed records to the tallies by type, and drop them once
    /// they are half of the records (the queue's front moves; amortised, each record moves at
    /// most once or twice). Their parent indices go stale: nothing reads them in this mode,
    /// and the records kept (the GC lists' leftovers) are numbered once folding stops.
    fn fold_processed(&mut self) {
        for r in &self.records[self.folded_upto..self.processed] {
            if !r.is_object() {
                continue;
            }
            let type_id = (r.kind & !Record::APPROXIMATE) as usize;
            if self.folded.len() <= type_id {
                self.folded.resize(type_id + 1, TypeTally::default());
            }
            let size = match r.size {
                Record::BIG => self
                    .threads
                    .iter()
                    .flat_map(|t| &t.big_sizes)
                    .find(|&&(slot, _)| slot == r.slot)
                    .map_or(0, |&(_, size)| size),
                size => u64::from(size),
            };
            let tally = &mut self.folded[type_id];
            tally.count += 1;
            tally.size += size;
            tally.approximate += u64::from(r.kind & Record::APPROXIMATE != 0);
        }
        self.folded_upto = self.processed;
        if self.processed * 2 >= self.records.len() {
            self.records.drain(..self.processed);
            self.processed = 0;
            self.folded_upto = 0;
            if self.records.capacity() > 2 * self.records.len() + COPY_ROUND {
                self.records.shrink_to(2 * self.records.len() + COPY_ROUND);
            }
        }
    }

    /// Queue `addr` with no parent and the label `label()`, unless it was seen before.
    fn enqueue_root(&mut self, addr: u64, label: impl FnOnce(&Self) -> u32) {
        if addr == 0 || !addr.is_multiple_of(8) {
            return;
        }
        if let Some((slot, true)) = self.shared.visited.insert_inside(addr) {
            let label = label(self);
            self.records.push(
                Candidate {
                    slot,
                    parent: NO_PARENT,
                    label,
                }
                .pending(),
            );
        }
    }

    /// Add a root: an object the interpreter holds directly, named for retainer chains.
    fn root(&mut self, addr: u64, name: &str) {
        let visited = &self.shared.visited;
        match visited.slots().slot(addr) {
            Some(slot) if self.shared.cross_edges && visited.contains(slot) => {
                // Reached before (from another root): the dominator tree still needs this edge.
                self.threads[0].cross.push((NO_PARENT, slot));
            }
            _ => {}
        }
        self.enqueue_root(addr, |w| lock(&w.shared.labels).root(name));
    }

    /// Walk level by level until no candidate is left.
    ///
    /// The buffers here live as long as the walk and only grow between levels: freeing or
    /// moving memory while two threads run costs both of them a TLB shootdown, which halved
    /// the speed of a parallel level when each chunk had a vector of its own.
    fn drain(&mut self) {
        while self.processed < self.records.len() {
            let first = self.processed;
            let end = first.saturating_add(self.round).min(self.records.len());
            let level = &mut self.records[first..end];
            self.processed += level.len();
            let shared = &self.shared;
            for thread in &mut self.threads {
                thread.found.clear();
                thread.spans.clear();
            }
            if level.len() < PARALLEL_MIN || self.threads.len() < 2 {
                let thread = &mut self.threads[0];
                let mut found = std::mem::take(&mut thread.found);
                thread.process(shared, level, first as u32, &mut found);
                thread.spans.push((0, 0, found.len()));
                thread.found = found;
            } else {
                // Chunks in level order; each thread takes the next one free, and the next
                // level is queued in chunk order. Which thread claims a child that two chunks
                // share decides its parent (both at the same depth), so parents may differ from
                // run to run; the objects and their depths do not.
                let run = |thread: &mut WalkThread, (i, records): (usize, &mut [Record])| {
                    let mut found = std::mem::take(&mut thread.found);
                    let start = found.len();
                    thread.process(shared, records, (first + i * CHUNK) as u32, &mut found);
                    thread.spans.push((i, start, found.len()));
                    thread.found = found;
                };
                // Without a helper thread (the process's one is busy, or none can be started)
                // every chunk is walked here, with the other thread's state.
                let (mine, others) = self.threads.split_at_mut(1);
                let (mine, other) = (&mut mine[0], &mut others[0]);
                crate::parallel::share(
                    level.chunks_mut(CHUNK).enumerate(),
                    |chunk| run(other, chunk),
                    |chunk| run(mine, chunk),
                );
            }
            let mut spans: Vec<(usize, usize, usize, usize)> = self
                .threads
                .iter()
                .enumerate()
                .flat_map(|(t, thread)| {
                    thread
                        .spans
                        .iter()
                        .map(move |&(chunk, start, end)| (chunk, t, start, end))
                })
                .collect();
            spans.sort_unstable();
            let queued: usize = spans.iter().map(|&(_, _, start, end)| end - start).sum();
            self.records.reserve(queued);
            crate::memory::populate_spare(&mut self.records, queued);
            for (_, t, start, end) in spans {
                let found = &self.threads[t].found[start..end];
                self.records.extend(found.iter().map(|c| c.pending()));
            }
            // The referents of one big object (a list of a million items: 12 MB of
            // candidates) do not keep their memory to the end.
            for thread in &mut self.threads {
                thread.found.shrink_to(self.round);
            }
            if self.folding {
                self.fold_processed();
            }
        }
    }
}

/// What the walk keeps of what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every object's record, and the edges the walk does not take (to objects found before
    /// another way), which the dominator tree and retained sizes need (8 bytes each; W1 has
    /// 1 M).
    Graph,
    /// Every object's record (20 bytes each): a snapshot's or `--objects`' rows.
    Objects,
    /// Counts and sizes by type only: the records of objects reached from the roots are
    /// folded into [`Heap::folded`] as the walk goes (only those the GC lists alone give stay,
    /// for the garbage rule). A table needs nothing more.
    Counts,
}

/// Walk the heap of `interp` in `image`. With `tolerant` (a copy taken without stopping the
/// target, or while its collector was collecting), a GC list that is torn or whose head does
/// not hold together is cut where it breaks (or left out) and reported in [`Heap::warnings`]
/// instead of failing the walk. Big levels are walked by as many threads as
/// there are cores, two at most (one on a live image). On a live image no cross edges are
/// kept, whatever `keep` says (the low-memory mode's bound).
pub fn walk(
    image: &Image,
    interp: &Interpreter,
    mode: Mode,
    tolerant: bool,
    keep: Keep,
    keys: KeyLabels,
) -> Result<Walked, WalkError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // A live image's cache is per thread: a second walking thread would fetch the same chunks
    // again, and measured no faster.
    let threads = if image.is_live() { 1 } else { cores };
    let threads = threads.clamp(1, THREADS);
    walk_with_threads(image, interp, mode, tolerant, keep, keys, threads)
}

/// [`walk`] with `threads` threads, two at most (1 walks every level in order,
/// deterministically).
pub fn walk_with_threads(
    image: &Image,
    interp: &Interpreter,
    mode: Mode,
    tolerant: bool,
    keep: Keep,
    keys: KeyLabels,
    threads: usize,
) -> Result<Walked, WalkError> {
    let mut view = View {
        image,
        layout: &interp.layout,
        // 2.7 names are bytes `str` and small numbers `int`.
        str_type: interp
            .static_type("PyString_Type")
            .or(interp.static_type("PyUnicode_Type"))
            .unwrap_or(0),
        int_type: interp
            .static_type("PyInt_Type")
            .or(interp.static_type("PyLong_Type"))
            .unwrap_or(0),
        type_type: interp.static_type("PyType_Type").unwrap_or(0),
        lookdict: interp.lookdict.unwrap_or(0),
    };
    let slots = Slots::new(image.layout().clone()).ok_or(WalkError::TooBig(image.stats().bytes))?;
    let states = interpreters(&view, interp)?;
    let mut warnings = Vec::new();
    let mut heads = Vec::new();
    for &state in &states {
        match gc_heads(&view, interp, state) {
            Ok(h) => heads.push(h),
            // Mid-collection, or torn by the running target: the lists' objects are found
            // from the roots, if any reaches them.
            Err(WalkError::Corrupt(why)) if tolerant => warnings.push(list_cut(why)),
            Err(e) => return Err(e),
        }
    }
    let mut types = TypeTable::new(interp);
    let learn_lookdict_first = view.layout.dict_keys == DictKeysLayout::V36 && view.lookdict == 0;
    // A stripped build's `subtype_traverse` and `lookdict` are learned from the GC lists
    // before anything is walked; otherwise the lists are read by another thread while this
    // one walks from the roots (the lists are linked: one thread, ~7 ms for 300 K objects).
    let early_seeds = if types.subtype_traverse.is_none() || learn_lookdict_first {
        let seeds = gc_list_objects(&view, &heads, mode, tolerant, &mut warnings)?;
        if learn_lookdict_first {
            view.lookdict = learn_lookdict(&view, interp.static_type("PyDict_Type"), &seeds.0);
        }
        types.learn_subtype_traverse(&view, seeds.0.iter().copied());
        Some(as_slots(&slots, seeds))
    } else {
        None
    };
    let mut w = Walker {
        shared: Shared {
            view,
            mode,
            cross_edges: keep == Keep::Graph && !image.is_live(),
            visited: AddressSet::new(slots.clone()),
            immortal: (keep == Keep::Graph && !image.is_live())
                .then(|| AddressSet::new(slots.clone())),
            types: Mutex::new(types),
            labels: Mutex::new(Labeler::new(view, keys)),
            interned: Vec::new(),
        },
        threads: (0..threads.clamp(1, THREADS))
            .map(|_| WalkThread::default())
            .collect(),
        records: Vec::new(),
        processed: 0,
        round: if image.is_live() {
            LIVE_ROUND
        } else {
            COPY_ROUND
        },
        folded: Vec::new(),
        folding: keep == Keep::Counts,
        folded_upto: 0,
        warnings: Vec::new(),
    };
    let walk_roots = |w: &mut Walker| {
        let prefix = |k: usize| {
            if states.len() > 1 {
                format!("<interpreter {k}> ")
            } else {
                String::new()
            }
        };
        // Modules first, so that what a module holds is named through `sys.modules[...]` even
        // when a running frame holds it too.
        for (k, &state) in states.iter().enumerate() {
            module_roots(w, state, &prefix(k));
        }
        w.drain();
        if mode == Mode::Full {
            for (k, &state) in states.iter().enumerate() {
                runtime_roots(w, interp, state, &prefix(k));
            }
            w.drain();
        }
    };
    let seeds = match early_seeds {
        Some(seeds) => {
            walk_roots(&mut w);
            seeds
        }
        None => {
            // A corrupt list (strict mode) fails the walk once the roots are walked too: the
            // same error, later.
            let (seeds, ()) = crate::parallel::join(
                || {
                    gc_list_objects(&view, &heads, mode, tolerant, &mut warnings)
                        .map(|seeds| as_slots(&slots, seeds))
                },
                || walk_roots(&mut w),
            );
            seeds?
        }
    };
    let notes = vec![gc_lists_note(&heads, mode, seeds.slots.len())];
    let gc_seeds = seeds;
    warnings.append(&mut w.warnings);
    // What no root reaches: garbage cycles not yet collected, objects held only by C code.
    // Their records stay (the garbage rule needs them).
    w.folding = false;
    let unrooted = w.records.len();
    for &s in &gc_seeds.slots {
        if w.shared.visited.insert_slot(s) {
            w.records.push(
                Candidate {
                    slot: s,
                    parent: NO_PARENT,
                    label: 0,
                }
                .pending(),
            );
        }
    }
    w.drain();
    let Shared {
        view,
        types,
        labels,
        visited,
        ..
    } = w.shared;
    // The threads' caches go first: they share the type descriptions `into_infos` hands out.
    let threads = std::mem::take(&mut w.threads);
    let mut cross = Vec::with_capacity(threads.len());
    let mut big_sizes = hashing::FastMap::default();
    for t in threads {
        cross.push(t.cross);
        big_sizes.extend(t.big_sizes);
    }
    let types = types
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_infos();
    if w.shared.cross_edges {
        held_by_interpreter(&types, visited.slots(), &mut cross[0]);
    }
    let garbage = find_garbage(&view, visited.slots(), &w.records, unrooted, |id| {
        &types[id as usize]
    });
    Ok(Walked {
        heap: Heap {
            records: w.records,
            folded: w.folded,
            slots: visited.slots().clone(),
            big_sizes,
            order: super::Order::None,
            types,
            garbage,
            ages: Vec::new(),
            edges: None,
            dominance: super::Dominance::NotWanted,
            labels: labels
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .into_strings(),
            interpreters: states.len(),
            warnings,
            notes,
        },
        visited,
        cross,
        gc_seeds,
    })
}

/// Every object on the interpreters' GC lists (and the permanent generation in full mode), in
/// list order, and how many each list gave with their age ([`GcLayout::list_ages`]). With
/// `tolerant`, a list torn by the running target is cut where it breaks and the reason added
/// to `warnings`.
fn gc_list_objects(
    view: &View,
    heads: &[GcHeads],
    mode: Mode,
    tolerant: bool,
    warnings: &mut Vec<String>,
) -> Result<ListObjects, WalkError> {
    let mut objects = Vec::new();
    let mut runs = Vec::new();
    let ages = view.layout.gc.list_ages;
    for heads in heads {
        let permanent = heads.permanent.filter(|_| mode == Mode::Full);
        let lists = heads.generations.into_iter().zip(ages);
        for (head, age) in lists.chain(permanent.map(|p| (p, GC_AGE_OLDEST))) {
            let before = objects.len();
            match list_objects(view, head, &mut objects) {
                Err(WalkError::Corrupt(why)) if tolerant => warnings.push(list_cut(why)),
                other => other?,
            }
            runs.push((objects.len() - before, age));
        }
    }
    Ok((objects, runs))
}

/// The objects of the GC lists, and the length and age of each list's run of them.
type ListObjects = (Vec<u64>, Vec<(usize, u8)>);

/// Whether a reference-count word marks an immortal object (3.12+: never freed; 3.12/3.13
/// set the count to 2^32 - 1, 3.14+ a flag). No count of an older version reaches that.
#[inline]
fn is_immortal(rule: RefcountRule, word: u64) -> bool {
    match rule {
        RefcountRule::Plain => word == u64::from(u32::MAX),
        RefcountRule::SplitWithFlags => (word >> 48) & 1 != 0,
    }
}

/// Static types are never freed: for the dominator tree the interpreter holds them (an edge
/// from the root above all roots), which makes every other edge to them redundant (an edge
/// into a vertex the root reaches directly changes no dominator), so the walk does not keep
/// the one from each object to its type. Immortal objects (3.12+: None, small ints, interned
/// strings) and the C statics of any version (objects in a file's writable mapping: None,
/// small ints and one-character strings of ≤ 3.11) are held the same way, as the walk
/// processes them; an edge to one found before it was processed is kept (redundant, not
/// wrong). Nothing retains them: freeing a container never frees an immortal it holds.
fn held_by_interpreter(types: &[TypeInfo], slots: &Slots, cross: &mut Vec<(u32, Slot)>) {
    for ty in types.iter().filter(|t| !t.is_heap()) {
        if let Some(slot) = slots.slot(ty.address) {
            cross.push((NO_PARENT, slot));
        }
    }
}

/// The slots of the GC lists' objects (4 bytes each where an address takes 8: they wait while
/// the roots are walked), and their lists' runs of them with their ages.
fn as_slots(slots: &Slots, (objects, runs): ListObjects) -> GcSeeds {
    let mut seeds = GcSeeds {
        slots: Vec::with_capacity(objects.len()),
        runs: Vec::with_capacity(runs.len()),
    };
    let mut objects = objects.into_iter();
    for (length, age) in runs {
        let before = seeds.slots.len();
        seeds
            .slots
            .extend(objects.by_ref().take(length).filter_map(|a| slots.slot(a)));
        seeds.runs.push((seeds.slots.len() - before, age));
    }
    seeds
}

/// The warning for a GC list a tolerant walk cut or left out.
fn list_cut(why: String) -> String {
    format!("{why}; objects only that list holds (not reachable from a root) may be missing")
}

/// Where the GC lists were found and what they hold, for the trail.
fn gc_lists_note(heads: &[GcHeads], mode: Mode, objects: usize) -> String {
    let lists: Vec<String> = heads
        .iter()
        .enumerate()
        .map(|(k, h)| {
            let [g0, g1, g2] = h.generations;
            let permanent = match h.permanent {
                Some(p) if mode == Mode::Full => format!(", permanent {p:#x}"),
                _ => String::new(),
            };
            format!("interpreter {k}: generations {g0:#x} {g1:#x} {g2:#x}{permanent}")
        })
        .collect();
    format!("GC lists ({}): {objects} objects on them", lists.join("; "))
}

/// 3.6–3.10 without `.symtab`: the general dict lookup function is the `dk_lookup` of any dict
/// holding a key that is not a `str` (only `lookdict` handles those).
fn learn_lookdict(view: &View, dict_type: Option<u64>, seeds: &[u64]) -> u64 {
    let Some(dict_type) = dict_type else { return 0 };
    for &d in seeds.iter().filter(|&&d| view.ob_type(d) == dict_type) {
        let mut entries = Vec::new();
        view.dict_entries(d, &mut entries);
        if entries.iter().any(|e| view.ob_type(e.key) != view.str_type) {
            return view.word(view.word(d + L::DICT_KEYS) + L::DK36_LOOKUP);
        }
    }
    0
}

/// The roots every mode has: an interpreter's module table, sys and builtins dicts (GC objects).
fn module_roots(w: &mut Walker, state: u64, prefix: &str) {
    let view = w.shared.view;
    let rt = &view.layout.runtime;
    w.root(
        view.word(state + rt.interp_modules),
        &format!("{prefix}sys.modules"),
    );
    w.root(
        view.word(state + rt.interp_sysdict),
        &format!("{prefix}sys.__dict__"),
    );
    w.root(
        view.word(state + rt.interp_builtins),
        &format!("{prefix}builtins.__dict__"),
    );
}

/// Full mode: what the runtime holds outside any object (and so outside gc.get_objects()):
/// interned strings, and every live frame of every thread.
fn runtime_roots(w: &mut Walker, interp: &Interpreter, state: u64, prefix: &str) {
    let view = w.shared.view;
    let rt = &view.layout.runtime;
    let interned = match (rt.interp_interned, interp.interned_static) {
        (Some(off), _) => view.word(state + off),
        (None, Some(var)) => view.word(var),
        (None, None) => 0,
    };
    w.shared.interned.push(interned);
    w.root(interned, &format!("{prefix}<interned strings>"));
    let mut tstate = view.word(state + rt.interp_threads_head);
    let mut threads = 0;
    while tstate != 0 {
        if threads == MAX_THREADS {
            w.warnings.push(format!(
                "{prefix}more than {MAX_THREADS} threads: the frames of the others are not \
                 followed as roots (their objects may show as held by no root)"
            ));
            break;
        }
        let thread = match rt.tstate_native_thread_id {
            Some(off) => view.word(tstate + off).to_string(),
            None => format!("#{threads}"),
        };
        let at = format!("{prefix}<thread {thread}>");
        match &view.layout.frames {
            Frames::Interpreter { iframe, .. } => live_frame_roots(w, tstate, iframe, &at),
            Frames::Objects { frame, .. } => {
                // Frames are objects: each running one is a root; its locals follow from it.
                let mut f = current_frame(&view, tstate);
                let mut depth = 0;
                while f != 0 {
                    if depth == MAX_FRAME_DEPTH {
                        frames_cut(w, &at);
                        break;
                    }
                    let code = view.word(f + frame.code);
                    w.root(f, &frame_root_name(&view, &at, code));
                    f = view.word(f + frame.back);
                    depth += 1;
                }
            }
        }
        tstate = view.word(tstate + rt.tstate_next);
        threads += 1;
    }
}

/// Report a thread whose frames beyond [`MAX_FRAME_DEPTH`] are not followed.
fn frames_cut(w: &mut Walker, thread: &str) {
    w.warnings.push(format!(
        "{thread}: more than {MAX_FRAME_DEPTH} frames: the outer ones are not followed as \
         roots (their objects may show as held by no root)"
    ));
}

/// `<thread N> frame qualname()`: how a running frame of `code` is named in retainer chains.
fn frame_root_name(view: &View, at: &str, code: u64) -> String {
    let name = view.str_value(view.word(code + view.layout.code.qualname));
    format!("{at} frame {}()", name.as_deref().unwrap_or("?"))
}

/// 3.11+: the interpreter frames of one thread, each local a root named after its frame.
fn live_frame_roots(w: &mut Walker, tstate: u64, f: &InterpFrameLayout, at: &str) {
    let view = w.shared.view;
    let mut frame = current_frame(&view, tstate);
    let mut depth = 0;
    // The frame's fixed part (its fields before the locals) must be in the copy.
    while frame != 0 && view.image.contains(frame, f.localsplus as usize) {
        if depth == MAX_FRAME_DEPTH {
            frames_cut(w, at);
            break;
        }
        if f.owner_shim_min
            .is_none_or(|min| view.u8_at(frame + f.owner) < min)
        {
            let code = view.stackref(view.word(frame + f.code));
            let at = frame_root_name(&view, at, code);
            // An executing frame's stack depth is not maintained: take its named locals.
            let nlocals = view.u32_at(code + view.layout.code.nlocalsplus) as u64;
            let mut refs: Vec<(u64, Edge)> = (0..nlocals.min(1 << 16))
                .map(|i| {
                    let slot = view.stackref(view.word(frame + f.localsplus + 8 * i));
                    (slot, Edge::Local(i as u32))
                })
                .collect();
            refs.push((
                view.stackref(view.word(frame + f.func)),
                Edge::Field("function"),
            ));
            refs.push((code, Edge::Field("f_code")));
            for (off, name) in [
                (f.locals, "f_locals"),
                (f.globals, "f_globals"),
                (f.builtins, "f_builtins"),
            ] {
                refs.push((view.word(frame + off), Edge::Field(name)));
            }
            for (child, edge) in refs {
                let label = match edge {
                    Edge::Local(i) => view
                        .local_name(code, i)
                        .map(|n| format!("{at} local '{n}'"))
                        .unwrap_or_else(|| format!("{at} stack[{i}]")),
                    Edge::Field(name) => format!("{at} {name}"),
                    _ => at.clone(),
                };
                w.root(child, &label);
            }
        }
        frame = view.word(frame + f.previous);
        depth += 1;
    }
}

fn current_frame(view: &View, tstate: u64) -> u64 {
    match view.layout.runtime.current_frame {
        CurrentFrame::Field(off) => view.word(tstate + off),
        CurrentFrame::ViaCFrame {
            cframe,
            current_frame,
        } => {
            let cf = view.word(tstate + cframe);
            if cf == 0 {
                0
            } else {
                view.word(cf + current_frame)
            }
        }
    }
}
