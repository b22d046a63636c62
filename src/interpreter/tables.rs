//! One offset table per CPython minor version (x86-64, default GIL build), in the shape of
//! [`super::layout::Layout`]. Sources: each version's headers (offsetof/sizeof probes compiled
//! against them), the live `_Py_DebugOffsets` on 3.13+, and object-by-object comparison with the
//! in-process ground truth (tests/ground_truth.rs). See docs/notes.md for what was measured how.

use super::layout::*;

/// Every table, by (major, minor), in version order: a new version is one more line here.
const TABLES: &[((u8, u8), &Layout)] = &[
    ((2, 7), &V2_7),
    ((3, 6), &V3_6),
    ((3, 7), &V3_7),
    ((3, 8), &V3_8),
    ((3, 9), &V3_9),
    ((3, 10), &V3_10),
    ((3, 11), &V3_11),
    ((3, 12), &V3_12),
    ((3, 13), &V3_13),
    ((3, 14), &V3_14),
    ((3, 15), &V3_15),
];

/// The offset table for a Python version, if heapsnap supports it.
pub fn layout_for(major: u8, minor: u8) -> Option<&'static Layout> {
    TABLES
        .iter()
        .find(|(version, _)| *version == (major, minor))
        .map(|&(_, layout)| layout)
}

/// The versions that have a table, for messages: runs of consecutive minor versions, as in
/// "2.7 and 3.6 to 3.15".
pub fn supported() -> String {
    let mut runs: Vec<((u8, u8), u8)> = Vec::new();
    for &((major, minor), _) in TABLES {
        match runs.last_mut() {
            Some(((run_major, _), last)) if *run_major == major && *last + 1 == minor => {
                *last = minor
            }
            _ => runs.push(((major, minor), minor)),
        }
    }
    let runs: Vec<String> = runs
        .into_iter()
        .map(|((major, first), last)| match first == last {
            true => format!("{major}.{first}"),
            false => format!("{major}.{first} to {major}.{last}"),
        })
        .collect();
    match runs.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => runs.concat(),
    }
}

const SET_3: SetLayout = SetLayout {
    smalltable: 64,
    key: 0,
    hash: 8,
    dummy_hash: true,
};

const DEQUE_3: DequeLayout = DequeLayout {
    len: 16,
    leftblock: 24,
    leftindex: 40,
    block_items: 64,
    block_data: 8,
    block_next: 520,
    block_size: 528,
    sizeof_spare_block: true,
};

/// Sizes of 3.x C types (the same offsets from 3.6 to 3.15, measured on each build).
const SIZES_3: SizeLayout = SizeLayout {
    managed_preheader: 16,
    array_allocated: 32,
    array_descr: 40,
    array_descr_itemsize: 4,
    bytesio: BytesIoBuffer::BytesObject { buf: 16 },
    buffered_buffer: 56,
    buffered_buffer_size: 120,
    struct_codes: 32,
    struct_len: 24,
    struct_code_size: 32,
    decimal_flags: 24,
    decimal_alloc: 56,
    product_pools: 16,
    combinations_r: 40,
    permutations_pool: 16,
    permutations_r: 48,
    element_extra: 40,
    element_extra_size: 64,
    element_allocated: 16,
    element_children: 24,
    element_inline_children: 32,
    simple_queue_capacity: 48,
    stgdict_dict_size: 48,
    stgdict: StgFields {
        length: 64,
        elements: 88,
        format: 168,
        ndim: 176,
    },
    stginfo: StgFields {
        length: 24,
        elements: 48,
        format: 136,
        ndim: 144,
    },
};

const METHOD_FIELDS_3: &[(u64, &str)] = &[(16, "__func__"), (24, "__self__")];

/// `ob_size` or `lv_tag`, then the digits: the same place in every version.
const LONG_FIELDS: LongFields = LongFields {
    size: 16,
    digits: 24,
};

const MODULE_VIA_DEF: ModuleLayout = ModuleLayout::ViaDef { def: 24, state: 32 };

const GC_3_8: GcLayout = GcLayout {
    head_size: 16,
    generations: [24, 48, 72],
    generations_alt: None,
    permanent: Some(104),
    list_ages: GENERATIONAL,
    collecting: Collecting::InState(200),
    tracked: TrackedMark::NextNotNull,
};

const STR_3_8: StrLayout = StrLayout {
    ascii_size: 48,
    compact_size: 72,
    legacy_size: 80,
    utf8_length: 48,
    utf8: 56,
    legacy_data: 72,
    wstr: Some((40, 64)),
};

const STR_3_12: StrLayout = StrLayout {
    ascii_size: 40,
    compact_size: 56,
    legacy_size: 64,
    utf8_length: 40,
    utf8: 48,
    legacy_data: 56,
    wstr: None,
};

// ---------------------------------------------------------------------------------------------
// 2.7: bytes `str`, `int`/`long`, old-style classes, dict tables inside the dict.

/// What `frame_traverse` visits in 2.7 and 3.6 (3.7 dropped the exception fields).
const FRAME_VISITED_2_7: &[(u64, &str)] = &[
    (24, "f_back"),
    (32, "f_code"),
    (40, "f_builtins"),
    (48, "f_globals"),
    (56, "f_locals"),
    (80, "f_trace"),
    (88, "f_exc_type"),
    (96, "f_exc_value"),
    (104, "f_exc_traceback"),
];

/// 2.7 (UCS-4 `unicode`, the Linux default): statics instead of `_PyRuntime`, a 32-byte GC
/// header, generations 40 bytes apart.
/// `lru_cache_object` from 3.7 (3.10 moved `__dict__` after two type pointers); entries are
/// `{PyObject_HEAD; prev, next; hash; key; result}` in every version. Measured in process
/// (ctypes against `gc.get_referents`) on every build.
const LRU_3_7: LruCacheLayout = LruCacheLayout {
    fields: &[(72, "cache"), (88, "__wrapped__"), (120, "__dict__")],
    visits_entries: false,
    next: 24,
    key: 40,
    result: 48,
};

pub static V2_7: Layout = Layout {
    debug_offsets: None,
    runtime: RuntimeLayout {
        interpreters: InterpretersHead::Static,
        interp_next: 0,
        interp_threads_head: 8,
        gc_state: GcState::Generation0,
        interp_modules: 16,
        interp_sysdict: 24,
        interp_builtins: 32,
        interp_interned: None,
        tstate_next: 0,
        tstate_native_thread_id: None,
        current_frame: CurrentFrame::Field(16),
    },
    gc: GcLayout {
        head_size: 32,
        generations: [0, 40, 80],
        generations_alt: None,
        list_ages: GENERATIONAL,
        permanent: None,
        collecting: Collecting::Static,
        tracked: TrackedMark::RefsNotUntracked(16),
    },
    tuple_items: 24,
    managed_dict: ManagedDict::None,
    dict_keys: DictKeysLayout::V27,
    dict_values: DictValues::Plain,
    header: HeaderRule::GcObject,
    strings: Strings::Py2 { unicode_unit: 4 },
    set: SetLayout {
        smalltable: 56,
        key: 8,
        hash: 0,
        dummy_hash: false,
    },
    deque: DequeLayout {
        len: 48,
        leftblock: 16,
        leftindex: 32,
        block_items: 62,
        block_data: 0,
        block_next: 496,
        block_size: 512,
        sizeof_spare_block: false,
    },
    method_fields: &[(16, "__func__"), (24, "__self__"), (32, "im_class")],
    long: LongLayout::Py2,
    long_fields: LONG_FIELDS,
    heap_type: HeapTypeLayout {
        sizeof_type: 392,
        sizeof_heap_type: 872,
        ht_name: 856,
        ht_slots: 864,
        ht_qualname: None,
        ht_cached_keys: None,
        ht_module: None,
    },
    function_fields: &[
        (16, "__code__"),
        (24, "__globals__"),
        (32, "__defaults__"),
        (40, "__closure__"),
        (48, "__doc__"),
        (56, "__name__"),
        (64, "__dict__"),
        (80, "__module__"),
    ],
    function_fields_added: &[],
    code: CodeLayout {
        object_fields: &[
            (32, "co_code"),
            (40, "co_consts"),
            (48, "co_names"),
            (56, "co_varnames"),
            (64, "co_freevars"),
            (72, "co_cellvars"),
            (80, "co_filename"),
            (88, "co_name"),
            (104, "co_lnotab"),
        ],
        localsplusnames: 56,
        qualname: 88,
        nlocalsplus: 20,
        stacksize: 24,
        framesize: None,
        co_extra: None,
        size: CodeSize::Basic,
    },
    frames: Frames::Objects {
        frame: FrameObjectLayout {
            code_cellvars: 72,
            code_freevars: 64,
            ..FRAME_OBJECT_3_6
        },
        gen: GenObjectLayout {
            visited: &[(16, "gi_frame"), (32, "gi_code")],
            finalizer: 0,
        },
    },
    module: ModuleLayout::DictOnly,
    old_class_fields: &[
        (16, "__bases__"),
        (24, "__dict__"),
        (32, "__name__"),
        (40, "__getattr__"),
        (48, "__setattr__"),
        (56, "__delattr__"),
    ],
    // `in_weakreflist` is not visited.
    old_instance_fields: &[(16, "__class__"), (24, "__dict__")],
    pymalloc_pool: 4 << 10,
    refcount: RefcountRule::Plain,
    bytearray: ByteArrayRule::Inline { alloc: 32 },
    // 2.7: `BytesIO` holds a raw buffer; `Struct` codes are 24 bytes; no C `Decimal`,
    // `itertools` or `Element` sizes.
    sizes: SizeLayout {
        bytesio: BytesIoBuffer::Raw {
            buf: 16,
            buf_size: 40,
        },
        struct_code_size: 24,
        ..SIZES_3
    },
    dict_first_since_micro: None,
    dict_first: false,
    lru_cache: None,
};

// ---------------------------------------------------------------------------------------------
// 3.6 – 3.10: frames are objects, dict keys carry a lookup function.

const CODE_FIELDS_3_6: &[(u64, &str)] = &[
    (40, "co_code"),
    (48, "co_consts"),
    (56, "co_names"),
    (64, "co_varnames"),
    (72, "co_freevars"),
    (80, "co_cellvars"),
    (96, "co_filename"),
    (104, "co_name"),
    (112, "co_lnotab"),
];

const CODE_3_6: CodeLayout = CodeLayout {
    object_fields: CODE_FIELDS_3_6,
    localsplusnames: 64,
    qualname: 104,
    nlocalsplus: 24,
    stacksize: 28,
    framesize: None,
    co_extra: Some(136),
    size: CodeSize::Separate {
        cell2arg: 88,
        cellvars: 80,
        code: 40,
        opcache: None,
    },
};

const HEAP_TYPE_3_6: HeapTypeLayout = HeapTypeLayout {
    sizeof_type: 400,
    sizeof_heap_type: 864,
    ht_name: 832,
    ht_slots: 840,
    ht_qualname: Some(848),
    ht_cached_keys: Some(856),
    ht_module: None,
};

/// Generators of 3.7–3.9: frame, code, names and the exception state are visited.
const GEN_3_7: GenObjectLayout = GenObjectLayout {
    visited: &[
        (16, "gi_frame"),
        (32, "gi_code"),
        (48, "__name__"),
        (56, "__qualname__"),
        (64, "exception type"),
        (72, "exception"),
        (80, "exception traceback"),
    ],
    finalizer: 96,
};

/// 3.7: runtime state in `_PyRuntime`, 32-byte GC header (24 bytes in 3.7.0–3.7.3, unverified),
/// generations of 48 bytes.
pub static V3_7: Layout = Layout {
    runtime: RuntimeLayout {
        interpreters: InterpretersHead::Runtime(24),
        gc_state: GcState::Runtime(320),
        interp_modules: 40,
        interp_sysdict: 56,
        interp_builtins: 64,
        ..V3_8.runtime
    },
    gc: GcLayout {
        head_size: 32,
        generations: [32, 80, 128],
        generations_alt: None,
        list_ages: GENERATIONAL,
        permanent: Some(192),
        collecting: Collecting::InState(312),
        tracked: TrackedMark::RefsNotUntracked(16),
    },
    heap_type: HEAP_TYPE_3_6,
    code: CODE_3_6,
    frames: Frames::Objects {
        frame: FRAME_OBJECT_3_7,
        gen: GEN_3_7,
    },
    ..V3_8
};

/// 3.6: no `_PyRuntime`; interpreters and GC lists are C statics.
pub static V3_6: Layout = Layout {
    runtime: RuntimeLayout {
        interpreters: InterpretersHead::Static,
        gc_state: GcState::Generation0,
        interp_modules: 16,
        interp_sysdict: 32,
        interp_builtins: 40,
        ..V3_8.runtime
    },
    gc: GcLayout {
        head_size: 32,
        generations: [0, 48, 96],
        generations_alt: None,
        list_ages: GENERATIONAL,
        permanent: None,
        collecting: Collecting::Static,
        tracked: TrackedMark::RefsNotUntracked(16),
    },
    frames: Frames::Objects {
        frame: FRAME_OBJECT_3_6,
        gen: GenObjectLayout {
            visited: &[
                (16, "gi_frame"),
                (32, "gi_code"),
                (48, "__name__"),
                (56, "__qualname__"),
            ],
            finalizer: 64,
        },
    },
    lru_cache: Some(LruCacheLayout {
        fields: &[(72, "__wrapped__"), (88, "cache"), (128, "__dict__")],
        visits_entries: true,
        ..LRU_3_7
    }),
    ..V3_7
};

// 3.8 – 3.10.

/// code, globals, defaults, kwdefaults, closure, doc, name, dict, module, annotations, qualname.
const FUNC_FIELDS_3_8: &[(u64, &str)] = &[
    (16, "__code__"),
    (24, "__globals__"),
    (32, "__defaults__"),
    (40, "__kwdefaults__"),
    (48, "__closure__"),
    (56, "__doc__"),
    (64, "__name__"),
    (72, "__dict__"),
    (88, "__module__"),
    (96, "__annotations__"),
    (104, "__qualname__"),
];

/// globals, builtins, name, qualname, code, defaults, kwdefaults, closure, doc, dict, module,
/// annotations (3.10+; later versions add fields after these).
const FUNC_FIELDS_3_10: &[(u64, &str)] = &[
    (16, "__globals__"),
    (24, "__builtins__"),
    (32, "__name__"),
    (40, "__qualname__"),
    (48, "__code__"),
    (56, "__defaults__"),
    (64, "__kwdefaults__"),
    (72, "__closure__"),
    (80, "__doc__"),
    (88, "__dict__"),
    (104, "__module__"),
    (112, "__annotations__"),
];

const CODE_FIELDS_3_8: &[(u64, &str)] = &[
    (48, "co_code"),
    (56, "co_consts"),
    (64, "co_names"),
    (72, "co_varnames"),
    (80, "co_freevars"),
    (88, "co_cellvars"),
    (104, "co_filename"),
    (112, "co_name"),
    (120, "co_lnotab"),
];

const CODE_3_8: CodeLayout = CodeLayout {
    object_fields: CODE_FIELDS_3_8,
    localsplusnames: 72,
    qualname: 112,
    nlocalsplus: 28,
    stacksize: 32,
    framesize: None,
    co_extra: Some(144),
    size: CodeSize::Separate {
        cell2arg: 96,
        cellvars: 88,
        code: 48,
        opcache: Some((160, 172)),
    },
};

const FRAME_VISITED_3_8: &[(u64, &str)] = &[
    (24, "f_back"),
    (32, "f_code"),
    (40, "f_builtins"),
    (48, "f_globals"),
    (56, "f_locals"),
    (80, "f_trace"),
];

/// `PyFrameObject` of 3.8 and 3.9; the other versions with frame objects differ from it in a few
/// fields only.
const FRAME_OBJECT_3_8: FrameObjectLayout = FrameObjectLayout {
    code: 32,
    visited: FRAME_VISITED_3_8,
    back: 24,
    valuestack: 64,
    stack: ValueStack::Top(72),
    localsplus: 360,
    sizeof: 368,
    code_cellvars: 88,
    code_freevars: 80,
};

/// 3.7: the code object's cell and free variable tuples one word lower.
const FRAME_OBJECT_3_7: FrameObjectLayout = FrameObjectLayout {
    code_cellvars: 80,
    code_freevars: 72,
    ..FRAME_OBJECT_3_8
};

/// 3.6 (and 2.7, but for its code object): two more words before the locals, and the 2.7
/// list of visited fields.
const FRAME_OBJECT_3_6: FrameObjectLayout = FrameObjectLayout {
    visited: FRAME_VISITED_2_7,
    localsplus: 376,
    sizeof: 384,
    ..FRAME_OBJECT_3_7
};

const FRAMES_3_8: Frames = Frames::Objects {
    frame: FRAME_OBJECT_3_8,
    gen: GEN_3_7,
};

pub static V3_8: Layout = Layout {
    debug_offsets: None,
    runtime: RuntimeLayout {
        interpreters: InterpretersHead::Runtime(32),
        interp_next: 0,
        interp_threads_head: 8,
        gc_state: GcState::Runtime(344),
        interp_modules: 56,
        interp_sysdict: 72,
        interp_builtins: 80,
        interp_interned: None,
        tstate_next: 8,
        tstate_native_thread_id: None,
        current_frame: CurrentFrame::Field(24),
    },
    gc: GC_3_8,
    tuple_items: 24,
    managed_dict: ManagedDict::None,
    dict_keys: DictKeysLayout::V36,
    dict_values: DictValues::Plain,
    header: HeaderRule::GcObject,
    strings: Strings::Pep393(STR_3_8),
    set: SET_3,
    deque: DEQUE_3,
    method_fields: METHOD_FIELDS_3,
    long: LongLayout::ObSize {
        min_one_digit: false,
    },
    long_fields: LONG_FIELDS,
    heap_type: HeapTypeLayout {
        sizeof_type: 416,
        sizeof_heap_type: 880,
        ht_name: 848,
        ht_slots: 856,
        ht_qualname: Some(864),
        ht_cached_keys: Some(872),
        ht_module: None,
    },
    function_fields: FUNC_FIELDS_3_8,
    function_fields_added: &[],
    code: CODE_3_8,
    frames: FRAMES_3_8,
    module: MODULE_VIA_DEF,
    old_class_fields: &[],
    old_instance_fields: &[],
    refcount: RefcountRule::Plain,
    bytearray: ByteArrayRule::Inline { alloc: 24 },
    sizes: SIZES_3,
    pymalloc_pool: 4 << 10,
    lru_cache: Some(LRU_3_7),
    dict_first_since_micro: None,
    dict_first: false,
};

pub static V3_9: Layout = Layout {
    runtime: RuntimeLayout {
        gc_state: GcState::Interpreter(616),
        interp_modules: 856,
        interp_sysdict: 872,
        interp_builtins: 880,
        ..V3_8.runtime
    },
    heap_type: HeapTypeLayout {
        sizeof_type: 408,
        sizeof_heap_type: 880,
        ht_name: 840,
        ht_slots: 848,
        ht_qualname: Some(856),
        ht_cached_keys: Some(864),
        ht_module: Some(872),
    },
    ..V3_8
};

const CODE_FIELDS_3_10: &[(u64, &str)] = &[
    (48, "co_code"),
    (56, "co_consts"),
    (64, "co_names"),
    (72, "co_varnames"),
    (80, "co_freevars"),
    (88, "co_cellvars"),
    (104, "co_filename"),
    (112, "co_name"),
    (120, "co_linetable"),
];

pub static V3_10: Layout = Layout {
    heap_type: HeapTypeLayout {
        sizeof_type: 408,
        sizeof_heap_type: 888,
        ht_name: 848,
        ht_slots: 856,
        ht_qualname: Some(864),
        ht_cached_keys: Some(872),
        ht_module: Some(880),
    },
    function_fields: FUNC_FIELDS_3_10,
    code: CodeLayout {
        object_fields: CODE_FIELDS_3_10,
        ..CODE_3_8
    },
    frames: Frames::Objects {
        frame: FrameObjectLayout {
            visited: &[
                (24, "f_back"),
                (32, "f_code"),
                (40, "f_builtins"),
                (48, "f_globals"),
                (56, "f_locals"),
                (72, "f_trace"),
            ],
            stack: ValueStack::Depth(80),
            localsplus: 352,
            sizeof: 360,
            ..FRAME_OBJECT_3_8
        },
        gen: GenObjectLayout {
            visited: &[
                (16, "gi_frame"),
                (24, "gi_code"),
                (40, "__name__"),
                (48, "__qualname__"),
                (56, "exception type"),
                (64, "exception"),
                (72, "exception traceback"),
            ],
            finalizer: 88,
        },
    },
    lru_cache: Some(LruCacheLayout {
        fields: &[(72, "cache"), (88, "__wrapped__"), (136, "__dict__")],
        ..LRU_3_7
    }),
    pymalloc_pool: 16 << 10,
    ..V3_9
};

// ---------------------------------------------------------------------------------------------
// 3.11+: interpreter frames, managed dicts.

/// consts, names, exceptiontable, localsplus names/kinds, filename, name, qualname, linetable.
const CODE_FIELDS_3_11: &[(u64, &str)] = &[
    (24, "co_consts"),
    (32, "co_names"),
    (40, "co_exceptiontable"),
    (96, "co_localsplusnames"),
    (104, "co_localspluskinds"),
    (112, "co_filename"),
    (120, "co_name"),
    (128, "co_qualname"),
    (136, "co_linetable"),
];

/// The frame object of 3.11 and 3.12: a pointer to its interpreter frame.
const FRAME_3_11: FrameLayout = FrameLayout {
    f_frame: 24,
    visited: &[(16, "f_back"), (32, "f_trace")],
    frame_data: 48,
};

const GEN_VISITED_3_12: &[(u64, &str)] =
    &[(24, "__name__"), (32, "__qualname__"), (40, "exception")];

pub static V3_11: Layout = Layout {
    runtime: RuntimeLayout {
        interpreters: InterpretersHead::Runtime(40),
        interp_threads_head: 16,
        gc_state: GcState::Interpreter(648),
        interp_modules: 888,
        interp_sysdict: 904,
        interp_builtins: 912,
        tstate_native_thread_id: Some(160),
        current_frame: CurrentFrame::ViaCFrame {
            cframe: 56,
            current_frame: 8,
        },
        ..V3_10.runtime
    },
    managed_dict: ManagedDict::ValuesAndDict {
        values: 32,
        dict: 24,
    },
    dict_keys: DictKeysLayout::V311,
    header: HeaderRule::V311,
    long: LongLayout::ObSize {
        min_one_digit: true,
    },
    heap_type: HeapTypeLayout {
        sizeof_heap_type: 904,
        ..V3_10.heap_type
    },
    code: CodeLayout {
        object_fields: CODE_FIELDS_3_11,
        localsplusnames: 96,
        qualname: 128,
        nlocalsplus: 76,
        stacksize: 68,
        framesize: None,
        co_extra: Some(176),
        size: CodeSize::Inline,
    },
    frames: Frames::Interpreter {
        frame: FRAME_3_11,
        iframe: InterpFrameLayout {
            func: 0,
            globals: 8,
            builtins: 16,
            locals: 24,
            code: 32,
            frame_obj: 40,
            previous: 48,
            stack_depth: StackDepth::Count(64),
            owner: 69,
            localsplus: 72,
            owner_shim_min: None,
            stack_refs: false,
            specials_words: 9,
        },
        gen: GenLayout {
            visited: &[
                (16, "gi_code"),
                (32, "__name__"),
                (40, "__qualname__"),
                (48, "exception"),
            ],
            code: Some(16),
            origin_or_finalizer: 64,
            frame_state: 75,
            iframe: 80,
            frame_cleared: 4,
            visits_code_when_cleared: false,
        },
    },
    ..V3_10
};

const IFRAME_3_12: InterpFrameLayout = InterpFrameLayout {
    code: 0,
    previous: 8,
    func: 16,
    globals: 24,
    builtins: 32,
    locals: 40,
    frame_obj: 48,
    stack_depth: StackDepth::Count(64),
    owner: 70,
    localsplus: 72,
    owner_shim_min: Some(3),
    stack_refs: false,
    specials_words: 9,
};

const GEN_3_12: GenLayout = GenLayout {
    visited: GEN_VISITED_3_12,
    code: None,
    origin_or_finalizer: 56,
    frame_state: 67,
    iframe: 72,
    frame_cleared: 4,
    visits_code_when_cleared: false,
};

const CODE_3_12: CodeLayout = CodeLayout {
    object_fields: CODE_FIELDS_3_11,
    localsplusnames: 96,
    qualname: 128,
    nlocalsplus: 72,
    stacksize: 64,
    framesize: Some(76),
    co_extra: Some(184),
    size: CodeSize::Inline,
};

pub static V3_12: Layout = Layout {
    runtime: RuntimeLayout {
        interp_threads_head: 72,
        gc_state: GcState::Interpreter(112),
        interp_modules: 944,
        interp_sysdict: 352,
        interp_builtins: 360,
        interp_interned: Some(382_936),
        tstate_native_thread_id: Some(144),
        current_frame: CurrentFrame::ViaCFrame {
            cframe: 56,
            current_frame: 0,
        },
        ..V3_11.runtime
    },
    managed_dict: ManagedDict::Tagged { word: 24 },
    header: HeaderRule::V312,
    strings: Strings::Pep393(STR_3_12),
    long: LongLayout::LvTag,
    heap_type: HeapTypeLayout {
        sizeof_type: 416,
        sizeof_heap_type: 920,
        ht_name: 856,
        ht_slots: 864,
        ht_qualname: Some(872),
        ht_cached_keys: Some(880),
        ht_module: Some(888),
    },
    function_fields_added: &[(120, "__type_params__")],
    code: CODE_3_12,
    frames: Frames::Interpreter {
        frame: FRAME_3_11,
        iframe: IFRAME_3_12,
        gen: GEN_3_12,
    },
    ..V3_11
};

pub static V3_13: Layout = Layout {
    debug_offsets: Some(DebugOffsetIndices {
        runtime_size: 3,
        interpreters_head: 5,
        interp_size: 6,
        interp_next: 8,
        interp_threads_head: 9,
        interp_gc: 10,
        interp_modules: 11,
        interp_sysdict: 12,
        interp_builtins: 13,
    }),
    runtime: RuntimeLayout {
        interpreters: InterpretersHead::Runtime(632),
        interp_next: 7264,
        interp_threads_head: 7344,
        gc_state: GcState::Interpreter(7400),
        interp_modules: 7656,
        interp_sysdict: 7640,
        interp_builtins: 7648,
        interp_interned: Some(194_328),
        tstate_next: 8,
        tstate_native_thread_id: Some(160),
        current_frame: CurrentFrame::Field(72),
    },
    gc: GcLayout {
        generations_alt: Some([20, 44, 68]),
        ..GC_3_8
    },
    managed_dict: ManagedDict::InlineValues { dict: 24 },
    dict_values: DictValues::Prefixed(ValuesPrefix {
        capacity: 0,
        embedded: 2,
        valid: 3,
        array: 8,
    }),
    header: HeaderRule::V313,
    heap_type: HeapTypeLayout {
        sizeof_heap_type: 928,
        ..V3_12.heap_type
    },
    code: CodeLayout {
        co_extra: Some(192),
        ..CODE_3_12
    },
    frames: Frames::Interpreter {
        frame: FrameLayout {
            f_frame: 24,
            visited: &[
                (16, "f_back"),
                (32, "f_trace"),
                (48, "f_extra_locals"),
                (56, "f_locals_cache"),
            ],
            frame_data: 64,
        },
        iframe: IFRAME_3_12,
        gen: GEN_3_12,
    },
    // gh-130327 was backported to 3.13 in March 2026: 3.13.13 is the first release that can
    // have it (3.13.0 measured old, sid's 3.13.18 measured new).
    dict_first_since_micro: Some(13),
    ..V3_12
};

const FRAMES_3_14: Frames = Frames::Interpreter {
    frame: FrameLayout {
        f_frame: 24,
        visited: &[
            (16, "f_back"),
            (32, "f_trace"),
            (48, "f_extra_locals"),
            (56, "f_locals_cache"),
            (64, "f_overwritten_fast_locals"),
        ],
        frame_data: 72,
    },
    iframe: InterpFrameLayout {
        stack_depth: StackDepth::Pointer(64),
        owner: 74,
        localsplus: 80,
        stack_refs: true,
        specials_words: 10,
        ..IFRAME_3_12
    },
    gen: GenLayout {
        visits_code_when_cleared: true,
        ..GEN_3_12
    },
};

/// Measured on Debian sid's 3.14.10 (headers and the live process); the GC-head offsets are
/// the same in 3.14.0–3.14.4 (incremental collector) per the shared reference, unverified.
pub static V3_14: Layout = Layout {
    // `interpreter_state.threads_main` (index 10) is new in 3.14.
    debug_offsets: Some(DebugOffsetIndices {
        runtime_size: 3,
        interpreters_head: 5,
        interp_size: 6,
        interp_next: 8,
        interp_threads_head: 9,
        interp_gc: 11,
        interp_modules: 12,
        interp_sysdict: 13,
        interp_builtins: 14,
    }),
    runtime: RuntimeLayout {
        interpreters: InterpretersHead::Runtime(808),
        interp_next: 7272,
        interp_threads_head: 7344,
        gc_state: GcState::Interpreter(7408),
        interp_modules: 7688,
        interp_sysdict: 7672,
        interp_builtins: 7680,
        interp_interned: Some(224_624),
        ..V3_13.runtime
    },
    gc: GcLayout {
        permanent: Some(96),
        list_ages: [1, GC_AGE_OLDEST, GC_AGE_OLDEST],
        collecting: Collecting::InState(192),
        ..GC_3_8
    },
    tuple_items: 32,
    heap_type: HeapTypeLayout {
        sizeof_heap_type: 936,
        ..V3_12.heap_type
    },
    function_fields_added: &[(120, "__annotate__"), (128, "__type_params__")],
    code: CodeLayout {
        co_extra: Some(200),
        ..CODE_3_12
    },
    frames: FRAMES_3_14,
    refcount: RefcountRule::SplitWithFlags,
    // ctypes' `StgInfo` has one more word before `format`.
    sizes: SizeLayout {
        stginfo: StgFields {
            length: 24,
            elements: 48,
            format: 144,
            ndim: 152,
        },
        ..SIZES_3
    },
    // gh-130327 was merged in March 2026; 3.14.4 is the first 3.14 release after it (3.14.10
    // measured new; earlier ones unverified).
    dict_first_since_micro: Some(4),
    ..V3_13
};

/// Measured on Debian sid's 3.15.2 (headers and the live process). Its `_Py_DebugOffsets`
/// indices are 3.14's (read from the live 3.15.2 runtime: the same words hold these offsets).
pub static V3_15: Layout = Layout {
    runtime: RuntimeLayout {
        interpreters: InterpretersHead::Runtime(936),
        interp_next: 7264,
        interp_threads_head: 7336,
        gc_state: GcState::Interpreter(7400),
        interp_modules: 7592,
        interp_sysdict: 7576,
        interp_builtins: 7584,
        interp_interned: Some(224_896),
        ..V3_14.runtime
    },
    gc: GcLayout {
        generations: [8, 32, 56],
        permanent: Some(80),
        list_ages: [1, GC_AGE_OLDEST, GC_AGE_OLDEST],
        collecting: Collecting::InState(112),
        ..GC_3_8
    },
    heap_type: HeapTypeLayout {
        sizeof_type: 424,
        sizeof_heap_type: 944,
        ht_name: 864,
        ht_slots: 872,
        ht_qualname: Some(880),
        ht_cached_keys: Some(888),
        ht_module: Some(896),
    },
    frames: match FRAMES_3_14 {
        Frames::Interpreter { frame, iframe, gen } => Frames::Interpreter {
            frame,
            iframe,
            gen: GenLayout {
                frame_cleared: 5,
                ..gen
            },
        },
        other => other,
    },
    module: ModuleLayout::Direct {
        state: 24,
        size: 56,
        traverse: 64,
    },
    bytearray: ByteArrayRule::BytesObject {
        alloc: 24,
        bytes_header: 33,
    },
    dict_first_since_micro: Some(0),
    ..V3_14
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The versions named by [`supported`], read back from its text.
    fn named_versions(text: &str) -> Vec<(u8, u8)> {
        let parse = |v: &str| {
            let (major, minor) = v.trim().split_once('.').unwrap();
            (major.parse::<u8>().unwrap(), minor.parse::<u8>().unwrap())
        };
        let mut out = Vec::new();
        for run in text.split(" and ").flat_map(|part| part.split(", ")) {
            match run.split_once(" to ") {
                Some((first, last)) => {
                    let ((major, first), (_, last)) = (parse(first), parse(last));
                    out.extend((first..=last).map(|minor| (major, minor)));
                }
                None => out.push(parse(run)),
            }
        }
        out
    }

    #[test]
    fn supported_names_exactly_the_versions_with_a_table() {
        let with_table: Vec<(u8, u8)> = (2..=4)
            .flat_map(|major| (0..=40).map(move |minor| (major, minor)))
            .filter(|&(major, minor)| layout_for(major, minor).is_some())
            .collect();
        assert_eq!(named_versions(&supported()), with_table);
        assert!(supported().contains(" to "), "{}", supported());
    }
}
