//! Type objects: validating that an address is a type, and what heapsnap needs to know about
//! each type (its census name, how its instances reference other objects, how
//! `sys.getsizeof` measures them), computed once per type and cached.

use std::collections::HashMap;
use std::sync::Arc;

use super::hashing::{FastMap, FastSet};

use super::objects::View;
use super::sizes::numpy;
use crate::interpreter::layout::{self as L};
use crate::interpreter::Interpreter;
use crate::memory::Memory;

/// How an object's referents are found: one handler per core type, conservative scanning for
/// other C types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `object` itself, and types without references (str, int, float, bytes, ...).
    Atomic,
    Tuple,
    List,
    Dict,
    OrderedDict,
    Set,
    Type,
    Module,
    Function,
    Cell,
    /// 2.7 `classobj` and `instance` (old-style classes).
    OldClass,
    OldInstance,
    Method,
    CFunction,
    WeakRef,
    Descriptor,
    Code,
    Frame,
    Generator,
    AsyncGenerator,
    Deque,
    /// `functools._lru_cache_wrapper` and the entries of its bounded cache.
    LruCache,
    LruEntry,
}

/// How `type(o).__sizeof__(o)` is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRule {
    /// `object.__sizeof__`: basic size plus item size × `ob_size`.
    Default,
    List,
    Dict,
    Set,
    Str,
    Long,
    ByteArray,
    Type,
    Code,
    Frame,
    Generator,
    Deque,
    OrderedDict,
    /// 2.7 `str`: `offsetof(ob_sval) + 1 + ob_size`, whatever the subclass adds.
    Py2Str,
    /// C types of the standard library whose `__sizeof__` counts a buffer they own (offsets in
    /// `Layout::sizes`).
    Array,
    BytesIo,
    Buffered,
    Struct,
    Decimal,
    ItertoolsProduct,
    /// `itertools.combinations` and `combinations_with_replacement`.
    ItertoolsCombinations,
    ItertoolsPermutations,
    Element,
    SimpleQueue,
    /// ctypes' type information: `StgDict` (3.7–3.12) and the types whose metatype derives from
    /// `_ctypes.CType_Type` (3.13+).
    StgDict,
    CTypeType,
    /// `numpy.ndarray` and its subclasses: the object, shape and strides, and the data when the
    /// array owns it. `object_size`: numpy < 1.20 counts a constant 80 bytes for the object
    /// (`NPY_SIZEOF_PYARRAYOBJECT`) rather than the instance type's basic size.
    NdArray {
        object_size: Option<u64>,
    },
    /// numpy scalars (`numpy.generic.__sizeof__`): the basic and variable size plus the size of
    /// one element of the scalar's dtype.
    NumpyScalar(ScalarElement),
    /// A `__sizeof__` heapsnap cannot reproduce (Python-level, or a C type's own): the default
    /// formula is used and the size is marked approximate.
    Custom,
}

/// The element size of a numpy scalar's dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarElement {
    /// Numeric, boolean and datetime scalars: fixed by the type.
    Fixed(u64),
    /// `numpy.bytes_`: one byte per character (`ob_size`).
    Bytes,
    /// `numpy.void`: the scalar's own descriptor (`PyVoidScalarObject.descr`).
    Void,
}

/// What `subtype_traverse` does for instances of a Python class.
#[derive(Debug, Clone, Default)]
pub struct InstanceLayout {
    /// Offsets and names of `__slots__` that hold object references, along the base chain.
    pub slots: Vec<(u64, String)>,
    /// The class has an instance dict pointer that its C base does not have.
    pub dict_offset: Option<i64>,
    /// Instances reference their class (the class is a heap type, its C base is not).
    pub visits_type: bool,
}

/// Everything cached about one type object.
#[derive(Debug, Clone)]
pub struct TypeInfo {
    pub address: u64,
    /// Census name: `module.QualName` for classes, `tp_name` for C types.
    pub name: String,
    pub flags: u64,
    pub basicsize: u64,
    pub itemsize: u64,
    /// `tp_is_gc` is set (only `type` and metaclasses): GC-ness depends on the instance.
    pub has_is_gc: bool,
    /// Behaviour of the nearest core base with a handler.
    pub kind: Kind,
    /// Fields added by C types on top of that base, `[scan_from, scan_to)`: every word there
    /// that points to a valid object is a referent (conservative scan).
    pub scan_from: u64,
    pub scan_to: u64,
    /// A C type of our own scanning whose variable part holds object pointers (item size 8,
    /// `ob_size` items, like CPython's HAMT nodes): scan the items too.
    pub scan_items: bool,
    /// Struct sequences (`os.stat_result`, `time.struct_time`): a tuple with `n_fields` items,
    /// more than its visible length.
    pub struct_fields: u64,
    /// Present for Python classes (types whose traverse is `subtype_traverse`).
    pub instance: Option<InstanceLayout>,
    pub size_rule: SizeRule,
    /// True when this type's instances are themselves types (metaclasses).
    pub is_metatype: bool,
    /// `ht_cached_keys` of a heap type: the shared keys of its instances' values.
    pub cached_keys: u64,
    /// Entries of `cached_keys` (the length of each instance's values array), read once.
    pub cached_keys_entries: u64,
}

impl TypeInfo {
    pub fn is_heap(&self) -> bool {
        self.flags & L::TPFLAGS_HEAPTYPE != 0
    }

    pub fn has_gc(&self) -> bool {
        self.flags & L::TPFLAGS_HAVE_GC != 0
    }

    /// `PyObject_IS_GC(obj)` for an instance of this type: the type has HAVE_GC and, for
    /// `type` and metaclasses (the only types with `tp_is_gc`), `obj` is a heap type.
    pub fn is_gc_object(&self, view: &View, obj: u64) -> bool {
        self.has_gc()
            && (!self.has_is_gc || view.word(obj + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE != 0)
    }
}

/// Identifies the core types by address.
struct KnownTypes {
    by_addr: FastMap<u64, (Kind, SizeRule)>,
    object: u64,
    type_: u64,
    /// `method_descriptor`: the type of a C method in a type's dict.
    method_descr: u64,
}

fn known_types(interp: &Interpreter) -> KnownTypes {
    use Kind::*;
    use SizeRule as S;
    let table: &[(&str, Kind, SizeRule)] = &[
        ("PyBaseObject_Type", Atomic, S::Default),
        ("PyString_Type", Atomic, S::Py2Str),
        ("PyInt_Type", Atomic, S::Long),
        ("PyClass_Type", OldClass, S::Default),
        ("PyInstance_Type", OldInstance, S::Default),
        ("PyType_Type", Type, S::Type),
        ("PyTuple_Type", Tuple, S::Default),
        ("PyList_Type", List, S::List),
        ("PyDict_Type", Dict, S::Dict),
        ("PyFrozenDict_Type", Dict, S::Dict),
        ("PySet_Type", Set, S::Set),
        ("PyFrozenSet_Type", Set, S::Set),
        ("PyModule_Type", Module, S::Default),
        ("PyFunction_Type", Function, S::Default),
        ("PyCell_Type", Cell, S::Default),
        ("PyMethod_Type", Method, S::Default),
        ("PyCFunction_Type", CFunction, S::Default),
        ("PyCMethod_Type", CFunction, S::Default),
        ("_PyWeakref_RefType", WeakRef, S::Default),
        ("_PyWeakref_ProxyType", WeakRef, S::Default),
        ("_PyWeakref_CallableProxyType", WeakRef, S::Default),
        ("PyMethodDescr_Type", Descriptor, S::Default),
        ("PyClassMethodDescr_Type", Descriptor, S::Default),
        ("PyMemberDescr_Type", Descriptor, S::Default),
        ("PyGetSetDescr_Type", Descriptor, S::Default),
        ("PyWrapperDescr_Type", Descriptor, S::Default),
        ("PyCode_Type", Code, S::Code),
        ("PyFrame_Type", Frame, S::Frame),
        ("PyGen_Type", Generator, S::Generator),
        ("PyCoro_Type", Generator, S::Generator),
        ("PyAsyncGen_Type", AsyncGenerator, S::Generator),
        ("PyLong_Type", Atomic, S::Long),
        ("PyBool_Type", Atomic, S::Long),
        ("PyFloat_Type", Atomic, S::Default),
        ("PyComplex_Type", Atomic, S::Default),
        ("PyUnicode_Type", Atomic, S::Str),
        ("PyBytes_Type", Atomic, S::Default),
        ("PyByteArray_Type", Atomic, S::ByteArray),
    ];
    let by_addr = table
        .iter()
        .filter_map(|&(name, kind, size)| Some((interp.static_type(name)?, (kind, size))))
        .collect();
    KnownTypes {
        by_addr,
        object: interp.static_type("PyBaseObject_Type").unwrap_or(0),
        type_: interp.static_type("PyType_Type").unwrap_or(0),
        method_descr: interp.static_type("PyMethodDescr_Type").unwrap_or(0),
    }
}

/// C types identified by name because they need their own handler.
fn kind_by_c_name(name: &str) -> Option<(Kind, SizeRule)> {
    match name {
        "collections.deque" => Some((Kind::Deque, SizeRule::Deque)),
        "collections.OrderedDict" => Some((Kind::OrderedDict, SizeRule::OrderedDict)),
        "functools._lru_cache_wrapper" => Some((Kind::LruCache, SizeRule::Default)),
        "functools._lru_list_elem" => Some((Kind::LruEntry, SizeRule::Default)),
        _ => None,
    }
}

/// The size rule of a C type (static or heap, by its census name) whose dict defines a C
/// `__sizeof__` that heapsnap reproduces; `None` for the others (they stay approximate).
fn size_rule_by_c_name(name: &str) -> Option<SizeRule> {
    use SizeRule as S;
    Some(match name {
        "array.array" => S::Array,
        "_io.BytesIO" => S::BytesIo,
        "_io.BufferedReader" | "_io.BufferedWriter" | "_io.BufferedRandom" => S::Buffered,
        // `Struct` up to 3.8 (tp_name without a module), `_struct.Struct` from 3.9.
        "Struct" | "_struct.Struct" => S::Struct,
        "decimal.Decimal" => S::Decimal,
        "itertools.product" => S::ItertoolsProduct,
        "itertools.combinations" | "itertools.combinations_with_replacement" => {
            S::ItertoolsCombinations
        }
        "itertools.permutations" => S::ItertoolsPermutations,
        "xml.etree.ElementTree.Element" => S::Element,
        "_queue.SimpleQueue" => S::SimpleQueue,
        "StgDict" => S::StgDict,
        "_ctypes.CType_Type" => S::CTypeType,
        _ => return None,
    })
}

/// The element size of the numpy scalar type named `name` (`numpy.float64`, ...), if it is one.
fn numpy_scalar_element(name: &str) -> Option<ScalarElement> {
    let short = name.strip_prefix("numpy.")?;
    let fixed = match short {
        "bytes_" => return Some(ScalarElement::Bytes),
        "void" => return Some(ScalarElement::Void),
        "bool" | "bool_" | "byte" | "ubyte" => 1,
        "short" | "ushort" | "half" => 2,
        "intc" | "uintc" | "single" => 4,
        "int_" | "uint" | "intp" | "uintp" | "long" | "ulong" | "longlong" | "ulonglong"
        | "double" | "csingle" => 8,
        "longdouble" | "cdouble" => 16,
        "clongdouble" => 32,
        // int8 ... uint64, float16 ... float128, complex64 ... complex256, datetime64,
        // timedelta64: the width in bits.
        _ => {
            let digits = short.trim_start_matches(|c: char| !c.is_ascii_digit());
            let bits: u64 = digits.parse().ok()?;
            if !bits.is_multiple_of(8) || !short.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return None;
            }
            bits / 8
        }
    };
    Some(ScalarElement::Fixed(fixed))
}

/// `n_fields` of a struct sequence type (0 for other tuple types).
fn struct_sequence_fields(view: &View, t: u64) -> u64 {
    let dict = view.word(t + L::TP_DICT);
    if dict == 0 {
        return 0;
    }
    view.dict_get_str(dict, "n_fields")
        .and_then(|v| view.small_int_value(v))
        .unwrap_or(0)
}

/// The cache of validated types. Types are numbered in the order they are first seen.
pub struct TypeTable {
    infos: Vec<Arc<TypeInfo>>,
    ids: FastMap<u64, u32>,
    rejected: FastSet<u64>,
    known: KnownTypes,
    /// `subtype_traverse`, from `.symtab` or learned from the heap.
    pub subtype_traverse: Option<u64>,
}

/// Limit on how long a base-class chain may be before we call the data corrupt.
const MAX_CHAIN: usize = 64;

impl TypeTable {
    pub fn new(interp: &Interpreter) -> TypeTable {
        TypeTable {
            infos: Vec::new(),
            ids: FastMap::default(),
            rejected: FastSet::default(),
            known: known_types(interp),
            subtype_traverse: interp.subtype_traverse,
        }
    }

    pub fn get(&self, id: u32) -> &TypeInfo {
        &self.infos[id as usize]
    }

    /// A shared handle on type `id`'s description (for the walk's threads).
    pub fn shared(&self, id: u32) -> Arc<TypeInfo> {
        self.infos[id as usize].clone()
    }

    pub fn into_infos(self) -> Vec<TypeInfo> {
        self.infos.into_iter().map(Arc::unwrap_or_clone).collect()
    }

    /// The id of the type at `addr`, validating and describing it on first sight.
    #[inline]
    pub fn resolve(&mut self, view: &View, addr: u64) -> Option<u32> {
        if let Some(&id) = self.ids.get(&addr) {
            return Some(id);
        }
        self.resolve_slow(view, addr, 0)
    }

    fn resolve_slow(&mut self, view: &View, addr: u64, depth: usize) -> Option<u32> {
        if let Some(&id) = self.ids.get(&addr) {
            return Some(id);
        }
        if depth > MAX_CHAIN || self.rejected.contains(&addr) {
            return None;
        }
        match self.describe(view, addr, depth) {
            Some(info) => {
                let id = self.infos.len() as u32;
                self.infos.push(Arc::new(info));
                self.ids.insert(addr, id);
                Some(id)
            }
            None => {
                self.rejected.insert(addr);
                None
            }
        }
    }

    /// Validate `t` as a type object (metatype is `type` or a validated metaclass, READY,
    /// sane sizes, readable name) and describe it.
    fn describe(&mut self, view: &View, t: u64, depth: usize) -> Option<TypeInfo> {
        if t == 0 || !t.is_multiple_of(8) || !view.image.contains(t, L::TP_MRO as usize + 8) {
            return None;
        }
        let meta = view.ob_type(t);
        if meta != self.known.type_ {
            if meta == t {
                return None;
            }
            let meta_id = self.resolve_slow(view, meta, depth + 1)?;
            if !self.get(meta_id).is_metatype {
                return None;
            }
        }
        let flags = view.word(t + L::TP_FLAGS);
        let basicsize = view.word(t + L::TP_BASICSIZE);
        let itemsize = view.word(t + L::TP_ITEMSIZE);
        if flags & L::TPFLAGS_READY == 0
            || !(16..=1 << 20).contains(&basicsize)
            || itemsize > 1 << 16
        {
            return None;
        }
        let is_heap = flags & L::TPFLAGS_HEAPTYPE != 0;
        let name = if is_heap {
            self.heap_type_name(view, t)?
        } else {
            let name = view
                .image
                .read_c_string(view.word(t + L::TP_NAME), 512)
                .ok()?;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
                return None;
            }
            name
        };
        let base = view.word(t + L::TP_BASE);
        let base_id = if base != 0 && t != self.known.object {
            Some(self.resolve_slow(view, base, depth + 1)?)
        } else {
            None
        };
        let is_metatype = t == self.known.type_
            || (flags & L::TPFLAGS_TYPE_SUBCLASS != 0
                && base_id.is_some_and(|b| self.get(b).is_metatype));
        let traverse = view.word(t + L::TP_TRAVERSE);
        let uses_subtype_traverse =
            is_heap && traverse != 0 && Some(traverse) == self.subtype_traverse;

        let (kind, scan_from, scan_to, instance) =
            if let Some(&(kind, _)) = self.known.by_addr.get(&t) {
                (kind, basicsize, basicsize, None)
            } else if uses_subtype_traverse {
                // A Python class: slots and dict here, then whatever its C base does.
                let instance = self.instance_layout(view, t, flags, base_id?);
                let c_base = self.get(instance.1);
                (
                    c_base.kind,
                    c_base.scan_from,
                    c_base.scan_to,
                    Some(instance.0),
                )
            } else if let Some((kind, _)) = kind_by_c_name(&name) {
                (kind, basicsize, basicsize, None)
            } else {
                // A C type: behave like its base, and scan the fields it adds.
                match base_id.map(|b| self.get(b)) {
                    Some(b) if b.instance.is_none() => {
                        let from = if b.scan_from < b.scan_to {
                            b.scan_from
                        } else {
                            b.basicsize
                        };
                        (b.kind, from.min(basicsize), basicsize, None)
                    }
                    _ => (Kind::Atomic, 16, basicsize, None),
                }
            };
        let size_rule = self.size_rule(view, t, &name);
        let cached_keys = if is_heap {
            view.layout
                .heap_type
                .ht_cached_keys
                .map(|off| view.word(t + off))
                .unwrap_or(0)
        } else {
            0
        };
        Some(TypeInfo {
            address: t,
            name,
            flags,
            basicsize,
            itemsize,
            has_is_gc: view.word(t + L::TP_IS_GC) != 0,
            kind,
            scan_from,
            scan_to,
            scan_items: itemsize == 8 && kind == Kind::Atomic && scan_from < scan_to,
            struct_fields: if kind == Kind::Tuple && instance.is_none() {
                struct_sequence_fields(view, t)
            } else {
                0
            },
            instance,
            size_rule,
            is_metatype,
            cached_keys,
            cached_keys_entries: view
                .dict_keys(cached_keys)
                .map_or(0, |k| k.nentries.max(0) as u64),
        })
    }

    /// `module.QualName` of a heap type (`builtins.` omitted).
    fn heap_type_name(&self, view: &View, t: u64) -> Option<String> {
        let ht = &view.layout.heap_type;
        let qualname = view.str_value(view.word(t + ht.ht_qualname.unwrap_or(ht.ht_name)))?;
        let dict = view.word(t + L::TP_DICT);
        let module = view
            .dict_get_str(dict, "__module__")
            .and_then(|m| view.str_value(m));
        Some(match module.as_deref() {
            None | Some("builtins") => qualname,
            Some(m) => format!("{m}.{qualname}"),
        })
    }

    /// What `subtype_traverse` visits for instances of class `t`.
    fn instance_layout(
        &self,
        view: &View,
        t: u64,
        flags: u64,
        base_id: u32,
    ) -> (InstanceLayout, u32) {
        let mut slots = Vec::new();
        // Walk the classes using subtype_traverse, collecting their object slots.
        let mut cls = t;
        let mut c_base = base_id;
        for _ in 0..MAX_CHAIN {
            let nslots = view.i64_at(cls + L::OB_SIZE);
            if nslots > 0 && nslots < 1 << 16 {
                let meta = view.ob_type(cls);
                let members = cls + view.word(meta + L::TP_BASICSIZE);
                for i in 0..nslots as u64 {
                    let m = members + i * L::MEMBERDEF_SIZE;
                    let ty = view.u32_at(m + L::MEMBERDEF_TYPE);
                    if ty == L::T_OBJECT_EX || ty == L::T_OBJECT {
                        let name = view
                            .image
                            .read_c_string(view.word(m), 256)
                            .unwrap_or_default();
                        slots.push((view.word(m + L::MEMBERDEF_OFFSET), name));
                    }
                }
            }
            let next = view.word(cls + L::TP_BASE);
            match self.ids.get(&next).map(|&id| self.get(id)) {
                Some(b) if b.instance.is_some() => {
                    cls = next;
                }
                Some(_) => {
                    c_base = self.ids[&next];
                    break;
                }
                None => break,
            }
        }
        let base = self.get(c_base);
        let managed_dict = view.layout.has_managed_dict(flags);
        let dictoffset = view.i64_at(t + L::TP_DICTOFFSET);
        let base_dictoffset = view.i64_at(base.address + L::TP_DICTOFFSET);
        let dict_offset = (!managed_dict && dictoffset != base_dictoffset && dictoffset != 0)
            .then_some(dictoffset);
        let layout = InstanceLayout {
            slots,
            dict_offset,
            visits_type: !base.is_heap(),
        };
        (layout, c_base)
    }

    /// Which `__sizeof__` applies: that of the first class along the MRO that defines one.
    fn size_rule(&self, view: &View, t: u64, name: &str) -> SizeRule {
        // The MRO starts with `t`, which is not in the table yet: its name is given.
        let classes: Vec<(u64, Option<&str>)> = std::iter::once((t, Some(name)))
            .chain(
                view.tuple_items(view.word(t + L::TP_MRO))
                    .skip(1)
                    .map(|c| (c, self.ids.get(&c).map(|&id| self.get(id).name.as_str()))),
            )
            .collect();
        for &(cls, cls_name) in &classes {
            let own_sizeof = {
                let dict = view.word(cls + L::TP_DICT);
                if dict != 0 {
                    view.dict_get_str(dict, "__sizeof__")
                } else {
                    None
                }
            };
            let heap = view.word(cls + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE != 0;
            if let Some(&(_, rule)) = self.known.by_addr.get(&cls) {
                // A core type that only inherits `object.__sizeof__` (3.x `bytes`) does not
                // hide a `__sizeof__` later in the MRO (`numpy.bytes_` → `numpy.generic`).
                if rule != SizeRule::Default || own_sizeof.is_some() || cls == self.known.object {
                    return rule;
                }
                continue;
            }
            // A C method (not Python code): the rule of a type heapsnap knows by name (static
            // types, or heap types from 3.12/3.13 on).
            let c_method = own_sizeof.is_some_and(|m| view.ob_type(m) == self.known.method_descr);
            let c_name = cls_name.filter(|_| !heap || c_method);
            if let Some((_, rule)) = c_name.and_then(kind_by_c_name) {
                return rule;
            }
            if own_sizeof.is_none() {
                continue;
            }
            return c_method
                .then(|| c_name.and_then(|n| self.c_size_rule(view, n, &classes)))
                .flatten()
                .unwrap_or(SizeRule::Custom);
        }
        SizeRule::Default
    }

    /// The rule for a C `__sizeof__` defined by the class named `cls_name`, along the MRO
    /// (classes and their names) of the measured type.
    fn c_size_rule(
        &self,
        view: &View,
        cls_name: &str,
        mro: &[(u64, Option<&str>)],
    ) -> Option<SizeRule> {
        match cls_name {
            "numpy.ndarray" => {
                let basicsize = mro
                    .iter()
                    .find(|&&(_, n)| n == Some("numpy.ndarray"))
                    .map_or(0, |&(c, _)| view.word(c + L::TP_BASICSIZE));
                Some(SizeRule::NdArray {
                    object_size: (basicsize == numpy::OLD_ARRAY_OBJECT)
                        .then_some(numpy::OLD_ARRAY_OBJECT),
                })
            }
            // The element size comes from the scalar's own numpy type, the first along the MRO.
            "numpy.generic" => mro.iter().find_map(|&(c, n)| {
                let heap = view.word(c + L::TP_FLAGS) & L::TPFLAGS_HEAPTYPE != 0;
                (!heap)
                    .then_some(n)
                    .flatten()
                    .and_then(numpy_scalar_element)
                    .map(SizeRule::NumpyScalar)
            }),
            other => size_rule_by_c_name(other),
        }
    }

    /// Learn `subtype_traverse` from the heap when `.symtab` is stripped: it is the traverse
    /// function shared by most classes whose base is `object`.
    pub fn learn_subtype_traverse(&mut self, view: &View, candidates: impl Iterator<Item = u64>) {
        if self.subtype_traverse.is_some() {
            return;
        }
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for obj in candidates {
            if view.ob_type(obj) != self.known.type_ {
                continue;
            }
            let flags = view.word(obj + L::TP_FLAGS);
            if flags & L::TPFLAGS_HEAPTYPE != 0 && view.word(obj + L::TP_BASE) == self.known.object
            {
                *counts.entry(view.word(obj + L::TP_TRAVERSE)).or_default() += 1;
            }
        }
        self.subtype_traverse = counts
            .into_iter()
            .filter(|&(f, _)| f != 0)
            .max_by_key(|&(_, n)| n)
            .map(|(f, _)| f);
    }
}

#[cfg(test)]
mod tests {
    use super::{numpy_scalar_element, ScalarElement};

    #[test]
    fn numpy_scalar_elements_by_name() {
        let fixed = |n: &str| match numpy_scalar_element(n) {
            Some(ScalarElement::Fixed(size)) => Some(size),
            _ => None,
        };
        assert_eq!(fixed("numpy.float64"), Some(8));
        assert_eq!(fixed("numpy.complex256"), Some(32));
        assert_eq!(fixed("numpy.int8"), Some(1));
        assert_eq!(fixed("numpy.bool_"), Some(1));
        assert_eq!(fixed("numpy.clongdouble"), Some(32));
        assert_eq!(fixed("numpy.timedelta64"), Some(8));
        assert_eq!(
            numpy_scalar_element("numpy.bytes_"),
            Some(ScalarElement::Bytes)
        );
        assert_eq!(numpy_scalar_element("numpy.generic"), None);
        assert_eq!(numpy_scalar_element("numpy.number"), None);
        assert_eq!(numpy_scalar_element("mymodule.float64"), None);
    }
}
