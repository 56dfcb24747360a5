//! Bounds on the lists and maps a saved report holds, enforced while serde reads them: a report
//! is untrusted, and a list of empty strings or a map of one-digit keys costs ten to twenty times
//! its JSON in memory. Each list and map has a length bound well above what any run writes, and
//! within [`with_budget`] all of them together a bound in bytes, so that a report's cost in
//! memory is bounded whatever its shape; past either, the report is refused as it is read.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

thread_local! {
    /// Bytes the lists and maps being read may still take; None outside [`with_budget`].
    static LEFT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Runs `read` with the lists and maps it reads bounded to `bytes` in all.
pub fn with_budget<R>(bytes: usize, read: impl FnOnce() -> R) -> R {
    let before = LEFT.replace(Some(bytes));
    let out = read();
    LEFT.set(before);
    out
}

/// What a map entry takes, at most, besides its key's and value's own text: the B-tree's share
/// of a node, and the allocation of a short key.
const ENTRY_BYTES: usize = 128;

/// Takes `bytes` from the budget, if one is set.
fn charge<E: serde::de::Error>(bytes: usize) -> Result<(), E> {
    match LEFT.get() {
        Some(left) if left < bytes => Err(E::custom("its lists and maps take more memory than a report's")),
        Some(left) => {
            LEFT.set(Some(left - bytes));
            Ok(())
        }
        None => Ok(()),
    }
}

/// A list of at most `N` items.
pub fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>, const N: usize>(d: D) -> Result<Vec<T>, D::Error> {
    struct Bounded<T, const N: usize>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for Bounded<T, N> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {N} items")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                if out.len() == N {
                    return Err(A::Error::custom(format_args!("a list of more than {N} items")));
                }
                charge(size_of::<T>().max(1))?;
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Bounded::<T, N>(PhantomData))
}

/// A map of at most `N` entries.
pub fn map<'de, D, K, V, const N: usize>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    struct Bounded<K, V, const N: usize>(PhantomData<(K, V)>);
    impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>, const N: usize> Visitor<'de> for Bounded<K, V, N> {
        type Value = BTreeMap<K, V>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a map of at most {N} entries")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<BTreeMap<K, V>, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = access.next_entry()? {
                if out.len() == N {
                    return Err(A::Error::custom(format_args!("a map of more than {N} entries")));
                }
                charge(ENTRY_BYTES)?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Bounded::<K, V, N>(PhantomData))
}

/// An optional map of at most `N` entries.
pub fn option_map<'de, D, K, V, const N: usize>(d: D) -> Result<Option<BTreeMap<K, V>>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(bound = "K: Deserialize<'de> + Ord, V: Deserialize<'de>")]
    struct Inner<K: Ord, V, const N: usize>(#[serde(deserialize_with = "map::<_, K, V, N>")] BTreeMap<K, V>);
    Ok(Option::<Inner<K, V, N>>::deserialize(d)?.map(|i| i.0))
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Two {
        #[serde(deserialize_with = "super::vec::<_, _, 2>")]
        list: Vec<String>,
        #[serde(deserialize_with = "super::map::<_, _, _, 2>")]
        map: std::collections::BTreeMap<String, u64>,
    }

    #[test]
    fn longer_lists_and_maps_are_refused() {
        let two = serde_json::from_str::<Two>(r#"{"list": ["a", "b"], "map": {"a": 1, "b": 2}}"#).unwrap();
        assert_eq!((two.list.len(), two.map.len()), (2, 2));
        let err = serde_json::from_str::<Two>(r#"{"list": ["a", "b", "c"], "map": {}}"#).unwrap_err();
        assert!(err.to_string().starts_with("a list of more than 2 items"), "{err}");
        let err = serde_json::from_str::<Two>(r#"{"list": [], "map": {"a": 1, "b": 2, "c": 3}}"#).unwrap_err();
        assert!(err.to_string().starts_with("a map of more than 2 entries"), "{err}");
        let two = r#"{"list": ["a", "b"], "map": {"a": 1, "b": 2}}"#;
        let err = super::with_budget(300, || serde_json::from_str::<Two>(two).unwrap_err());
        assert!(err.to_string().starts_with("its lists and maps take more memory"), "{err}");
        assert!(super::with_budget(1000, || serde_json::from_str::<Two>(two)).is_ok());
    }
}
