//! Reading the contents of core objects out of the memory image: strings, tuples, dict entries.
//! Used for names (type names, `__module__`, dict keys) and by the per-type referent handlers.

use super::types::Kind;
use crate::interpreter::layout::{self as L, DictKeysLayout, DictValues, Frames, Layout, Strings};
use crate::memory::image::Image;

/// The image seen through one interpreter's layout.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub image: &'a Image,
    pub layout: &'a Layout,
    /// `&PyUnicode_Type`: names are only decoded from exact `str` objects.
    pub str_type: u64,
    /// `&PyLong_Type`: integer keys are only decoded from exact `int` objects.
    pub int_type: u64,
    /// `&PyType_Type`.
    pub type_type: u64,
    /// 3.6–3.10: the general dict lookup function (`lookdict`), 0 if unknown.
    pub lookdict: u64,
}

/// One live entry of a dict.
#[derive(Debug, Clone, Copy)]
pub struct DictEntry {
    pub key: u64,
    pub value: u64,
}

/// A dict's key table, decoded (any layout).
#[derive(Debug, Clone, Copy)]
pub struct DictKeys {
    pub addr: u64,
    pub refcnt: u64,
    /// Number of index slots (a power of two).
    pub size: u64,
    /// Entries with a hash, whose keys `dict_traverse` visits (non-str keys): 3.11+
    /// `DICT_KEYS_GENERAL`, 3.6–3.10 `dk_lookup == lookdict`.
    pub general: bool,
    pub usable: i64,
    pub nentries: i64,
    /// Which layout it was decoded from.
    layout: DictKeysLayout,
    /// Size of the header (32 since 3.11, 40 before) and of the index table.
    header: u64,
    index_bytes: u64,
    /// Entry size and the key's offset in an entry (the value follows the key).
    pub entry_size: u64,
    pub key_offset: u64,
}

impl DictKeys {
    pub fn entries_start(&self) -> u64 {
        self.addr + self.header + self.index_bytes
    }

    /// Where the key of entry `index` is (its value, in a combined table, follows it).
    pub fn key_address(&self, index: u64) -> u64 {
        self.entries_start() + index * self.entry_size + self.key_offset
    }

    /// `USABLE_FRACTION(size)`: entries allocated for `size` index slots.
    fn usable_fraction(&self) -> u64 {
        (self.size << 1) / 3
    }

    /// `_PyDict_KeysSize`: header, index table and the usable entries.
    pub fn allocated_size(&self) -> u64 {
        self.header + self.index_bytes + self.usable_fraction() * self.entry_size
    }

    /// What a split dict's values array counts in `dict.__sizeof__`.
    pub fn split_values_size(&self) -> u64 {
        if self.layout == DictKeysLayout::V36 {
            8 * self.usable_fraction()
        } else {
            8 * (self.nentries + self.usable).max(0) as u64
        }
    }
}

impl<'a> View<'a> {
    #[inline]
    pub fn word(&self, addr: u64) -> u64 {
        self.image.word(addr).unwrap_or(0)
    }

    #[inline]
    pub fn i64_at(&self, addr: u64) -> i64 {
        self.word(addr) as i64
    }

    #[inline]
    pub fn u8_at(&self, addr: u64) -> u8 {
        self.image.u8_at(addr).unwrap_or(0)
    }

    #[inline]
    pub fn u32_at(&self, addr: u64) -> u32 {
        self.image.u32_at(addr).unwrap_or(0)
    }

    #[inline]
    pub fn ob_type(&self, obj: u64) -> u64 {
        self.word(obj + L::OB_TYPE)
    }

    /// The object a `_PyStackRef` slot refers to (3.14+), or the plain pointer before; 0 for
    /// NULL and for tagged integers.
    #[inline]
    pub fn stackref(&self, word: u64) -> u64 {
        if !self.layout.iframe().is_some_and(|f| f.stack_refs) {
            return word;
        }
        if word == 1 || word & 2 != 0 {
            // NULL (1), tagged int (low bits 3), error/JIT markers (low bits 2).
            return 0;
        }
        word & !1
    }

    /// 3.11+: the interpreter frame of a frame object (`kind` `Frame`), or the one embedded in a
    /// generator or coroutine; `obj` itself for anything else (a live interpreter frame), and
    /// for versions whose frames are objects.
    pub fn interpreter_frame(&self, obj: u64, kind: Kind) -> u64 {
        match &self.layout.frames {
            Frames::Interpreter { frame, gen, .. } => match kind {
                Kind::Frame => self.word(obj + frame.f_frame),
                Kind::Generator | Kind::AsyncGenerator => obj + gen.iframe,
                _ => obj,
            },
            Frames::Objects { .. } => obj,
        }
    }

    /// The code object run by a frame, generator or live interpreter frame (see
    /// [`View::interpreter_frame`]).
    pub fn frame_code(&self, obj: u64, kind: Kind) -> u64 {
        match &self.layout.frames {
            Frames::Interpreter { iframe, .. } => {
                self.stackref(self.word(self.interpreter_frame(obj, kind) + iframe.code))
            }
            Frames::Objects { frame, .. } => self.word(obj + frame.code),
        }
    }

    /// The name of local slot `i` of `code` (its `co_localsplusnames` entry), if it is a str.
    pub fn local_name(&self, code: u64, i: u32) -> Option<String> {
        let names = self.word(code + self.layout.code.localsplusnames);
        let name = self.tuple_items(names).nth(i as usize)?;
        self.str_value(name)
    }

    /// `ob_size` of a variable-size object.
    #[inline]
    pub fn ob_size(&self, obj: u64) -> i64 {
        self.i64_at(obj + L::OB_SIZE)
    }

    /// Items of a tuple, NULLs included (none if the item array is not in the copy).
    pub fn tuple_items(&self, tuple: u64) -> impl Iterator<Item = u64> + '_ {
        let n = self.ob_size(tuple).clamp(0, 1 << 28) as u64;
        let base = tuple + self.layout.tuple_items;
        let n = if self.image.contains(base, 8 * n as usize) {
            n
        } else {
            0
        };
        (0..n).map(move |i| self.word(base + 8 * i))
    }

    /// Whether `s` is a 2.7 `str` holding exactly `text` (compared in place, no allocation).
    pub fn is_py2_str(&self, s: u64, text: &[u8]) -> bool {
        self.ob_type(s) == self.str_type
            && self.ob_size(s) == text.len() as i64
            && self.image.slice(s + L::PY2_STR_DATA, text.len()).as_deref() == Some(text)
    }

    /// The text of a `str` object, if it is one we can decode.
    pub fn str_value(&self, s: u64) -> Option<String> {
        if self.ob_type(s) != self.str_type {
            return None;
        }
        let sl = match &self.layout.strings {
            Strings::Pep393(sl) => sl,
            Strings::Py2 { .. } => {
                // 2.7 `str`: bytes `ob_sval` at +36, `ob_size` long.
                let len = self.i64_at(s + L::OB_SIZE);
                if !(0..=1 << 20).contains(&len) {
                    return None;
                }
                let bytes = self.image.slice(s + L::PY2_STR_DATA, len as usize)?;
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
        };
        let len = self.i64_at(s + L::STR_LENGTH);
        if !(0..=1 << 20).contains(&len) {
            return None;
        }
        let state = self.u32_at(s + L::STR_STATE);
        let kind = (state >> 2) & 7;
        let compact = state & (1 << 5) != 0;
        let ascii = state & (1 << 6) != 0;
        let data = match (compact, ascii) {
            (true, true) => s + sl.ascii_size,
            (true, false) => s + sl.compact_size,
            (false, _) => self.word(s + sl.legacy_data),
        };
        let len = len as usize;
        match kind {
            1 => {
                let bytes = self.image.slice(data, len)?;
                Some(bytes.iter().map(|&b| b as char).collect())
            }
            2 => {
                let bytes = self.image.slice(data, 2 * len)?;
                let units: Vec<u16> = bytes
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                Some(String::from_utf16_lossy(&units))
            }
            4 => {
                let bytes = self.image.slice(data, 4 * len)?;
                Some(
                    bytes
                        .chunks_exact(4)
                        .map(|c| {
                            char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                                .unwrap_or('\u{fffd}')
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// The value of a non-negative `int` below 2**30 (one digit).
    pub fn small_int_value(&self, obj: u64) -> Option<u64> {
        if self.ob_type(obj) != self.int_type {
            return None;
        }
        let digits = match self.layout.long {
            crate::interpreter::layout::LongLayout::ObSize { .. } => {
                self.i64_at(obj + self.layout.long_fields.size)
            }
            // 2.7 `int`: the value itself.
            crate::interpreter::layout::LongLayout::Py2 => {
                return u64::try_from(self.i64_at(obj + L::OB_SIZE)).ok();
            }
            crate::interpreter::layout::LongLayout::LvTag => {
                let tag = self.word(obj + self.layout.long_fields.size);
                if tag & 3 == 2 {
                    return None;
                }
                (tag >> 3) as i64
            }
        };
        match digits {
            0 => Some(0),
            1 => Some(self.u32_at(obj + self.layout.long_fields.digits) as u64),
            _ => None,
        }
    }

    /// The entry table of a dict: its key object, or (2.7) the table inside the dict. `None`
    /// unless the whole entry table is in the copy (so loops over it are bounded by real memory).
    pub fn dict_table(&self, dict: u64) -> Option<DictKeys> {
        let keys = self.dict_table_unchecked(dict)?;
        let bytes = (keys.nentries as u64).checked_mul(keys.entry_size)?;
        self.image
            .contains(keys.entries_start(), bytes as usize)
            .then_some(keys)
    }

    fn dict_table_unchecked(&self, dict: u64) -> Option<DictKeys> {
        if self.layout.dict_keys != DictKeysLayout::V27 {
            return self.dict_keys(self.word(dict + L::DICT_KEYS));
        }
        let mask = self.word(dict + L::DICT27_MASK);
        (mask < 1 << 32).then(|| DictKeys {
            addr: self.word(dict + L::DICT27_TABLE),
            refcnt: 0,
            size: mask + 1,
            general: true,
            usable: 0,
            nentries: (mask + 1) as i64,
            layout: DictKeysLayout::V27,
            header: 0,
            index_bytes: 0,
            entry_size: 24,
            key_offset: 8,
        })
    }

    /// A split dict's values array (3.x), 0 for combined tables.
    pub fn dict_split_values(&self, dict: u64) -> u64 {
        match self.layout.dict_keys {
            DictKeysLayout::V27 => 0,
            _ => self.word(dict + L::DICT_VALUES),
        }
    }

    /// Decode a key object (3.x; 2.7 has none). Its header is read in one piece: the walk
    /// decodes every dict's keys, and each instance's shared keys.
    pub fn dict_keys(&self, keys: u64) -> Option<DictKeys> {
        // The bigger of the two headers (3.6-3.10: 40 bytes, 3.11+: 32).
        let header: [u8; L::DK36_HEADER as usize] = self.image.array(keys)?;
        let byte = |at: u64| header[at as usize];
        let word = |at: u64| {
            let at = at as usize;
            u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or([0; 8]))
        };
        let k = match self.layout.dict_keys {
            DictKeysLayout::V27 => return None,
            DictKeysLayout::V311 => {
                let (log2_size, log2_index_bytes, kind) = (
                    byte(L::DK311_LOG2_SIZE),
                    byte(L::DK311_LOG2_INDEX_BYTES),
                    byte(L::DK311_KIND),
                );
                if log2_size >= 40 || log2_index_bytes >= 44 || kind > 2 {
                    return None;
                }
                let general = kind == 0;
                DictKeys {
                    addr: keys,
                    refcnt: word(0),
                    size: 1 << log2_size,
                    general,
                    usable: word(L::DK311_USABLE) as i64,
                    nentries: word(L::DK311_NENTRIES) as i64,
                    layout: DictKeysLayout::V311,
                    header: L::DK311_HEADER,
                    index_bytes: 1 << log2_index_bytes,
                    entry_size: if general { 24 } else { 16 },
                    key_offset: if general { 8 } else { 0 },
                }
            }
            DictKeysLayout::V36 => {
                let size = word(L::DK36_SIZE);
                if !size.is_power_of_two() || size > 1 << 40 {
                    return None;
                }
                let index_width = match size {
                    0..=0xff => 1,
                    0x100..=0xffff => 2,
                    0x1_0000..=0xffff_ffff => 4,
                    _ => 8,
                };
                DictKeys {
                    addr: keys,
                    refcnt: word(0),
                    size,
                    general: self.lookdict != 0 && word(L::DK36_LOOKUP) == self.lookdict,
                    usable: word(L::DK36_USABLE) as i64,
                    nentries: word(L::DK36_NENTRIES) as i64,
                    layout: DictKeysLayout::V36,
                    header: L::DK36_HEADER,
                    index_bytes: index_width * size,
                    entry_size: 24,
                    key_offset: 8,
                }
            }
        };
        // A table never holds more entries than index slots.
        (0..=k.size as i64).contains(&k.nentries).then_some(k)
    }

    /// Where a `PyDictValues`' array of value pointers starts.
    pub fn dict_values_array(&self, values: u64) -> u64 {
        match self.layout.dict_values {
            DictValues::Plain => values,
            DictValues::Prefixed(prefix) => values + prefix.array,
        }
    }

    /// Live (key, value) pairs of a dict, in entry order. For split tables the keys come from
    /// the shared keys.
    pub fn dict_entries(&self, dict: u64, out: &mut Vec<DictEntry>) {
        if let Some(keys) = self.dict_table(dict) {
            self.for_each_dict_entry(dict, &keys, |e| out.push(e));
        }
    }

    /// Call `f` with each live entry of `dict`, whose table `keys` is.
    pub fn for_each_dict_entry(&self, dict: u64, keys: &DictKeys, mut f: impl FnMut(DictEntry)) {
        let values = self.dict_split_values(dict);
        for i in 0..keys.nentries as u64 {
            let at = keys.key_address(i);
            let key = self.word(at);
            let value = if values != 0 {
                self.word(self.dict_values_array(values) + 8 * i)
            } else {
                self.word(at + 8)
            };
            if key != 0 && value != 0 {
                f(DictEntry { key, value });
            }
        }
    }

    /// The key of entry `index` of a key object (shared keys of instances).
    pub fn keys_entry_key(&self, keys: u64, index: u32) -> Option<u64> {
        self.entry_key(&self.dict_keys(keys)?, index)
    }

    fn entry_key(&self, keys: &DictKeys, index: u32) -> Option<u64> {
        if index as i64 >= keys.nentries {
            return None;
        }
        Some(self.word(keys.key_address(u64::from(index))))
    }

    /// The value stored under a `str` key equal to `name`.
    pub fn dict_get_str(&self, dict: u64, name: &str) -> Option<u64> {
        let mut entries = Vec::new();
        self.dict_entries(dict, &mut entries);
        entries
            .into_iter()
            .find(|e| self.str_value(e.key).as_deref() == Some(name))
            .map(|e| e.value)
    }
}
