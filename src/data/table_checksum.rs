//! An order-independent checksum of a table's rows: the same rows give the same checksum
//! whatever the engine and whatever the order they are read in. Used to verify a copy and to
//! reconcile two tables.

use std::fmt;

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use crate::data::Value;

/// The count of rows and the wrapping sum of their hashes. Summing (rather than XOR) keeps
/// duplicate rows from cancelling out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableChecksum {
    pub rows: u64,
    #[serde(serialize_with = "serialize_hex")]
    pub sum: u128,
}

impl TableChecksum {
    /// Adds one row, hashed from the canonical text of its values.
    pub fn add(&mut self, row: &[Value]) {
        self.rows += 1;
        self.sum = self.sum.wrapping_add(row_hash(row));
    }

    /// Combines the checksums of two parts of a table (key ranges copied in parallel).
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        Self {
            rows: self.rows + other.rows,
            sum: self.sum.wrapping_add(other.sum),
        }
    }
}

/// A 128-bit hash of a row's canonical values; NULL and the empty string differ, and so do
/// `("ab", "c")` and `("a", "bc")`.
pub fn row_hash(row: &[Value]) -> u128 {
    thread_local! {
        static SCRATCH: std::cell::RefCell<(String, RowHasher)> =
            std::cell::RefCell::new((String::new(), RowHasher::default()));
    }
    SCRATCH.with_borrow_mut(|(text, hasher)| {
        for value in row {
            text.clear();
            if value.write_canonical(text) {
                hasher.value(text);
            } else {
                hasher.null();
            }
        }
        hasher.finish()
    })
}

/// A row's hash, value by value, for readers that make canonical texts themselves (from
/// PostgreSQL's `COPY` text); [`row_hash`] for [`Value`]s.
///
/// The row is framed into one buffer (a tag byte per value, `0` for NULL and `1` followed by
/// the text's length and the text otherwise) and the frame is hashed with XXH3-128 in one
/// call: a checksum that detects any changed, missing or extra value, at memory speed. It is
/// not a cryptographic digest (nobody chooses the rows to collide with it), and its values are
/// compared within one run, never with stored ones. The hasher is reusable: [`Self::finish`]
/// empties it for the next row.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowHasher {
    frame: Vec<u8>,
}

impl RowHasher {
    pub(crate) fn null(&mut self) {
        self.frame.push(0);
    }

    /// A value, as its canonical text.
    pub(crate) fn value(&mut self, canonical: &str) {
        self.frame.push(1);
        self.frame.extend_from_slice(
            &u64::try_from(canonical.len())
                .unwrap_or(u64::MAX)
                .to_le_bytes(),
        );
        self.frame.extend_from_slice(canonical.as_bytes());
    }

    /// The row's hash; the hasher is empty again afterwards.
    pub(crate) fn finish(&mut self) -> u128 {
        let hash = xxh3_128(&self.frame);
        self.frame.clear();
        hash
    }
}

fn serialize_hex<S: serde::Serializer>(sum: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{sum:032x}"))
}

impl fmt::Display for TableChecksum {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} rows, sum {:032x}", self.rows, self.sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum(rows: &[Vec<Value>]) -> TableChecksum {
        let mut checksum = TableChecksum::default();
        for row in rows {
            checksum.add(row);
        }
        checksum
    }

    /// The frame is fixed: each value tagged (0 for NULL; 1, the text's length in 8 bytes
    /// little-endian, the text), the row's frame hashed once with XXH3-128.
    #[test]
    fn a_row_hash_is_xxh3_128_of_its_framed_values() {
        let mut frame = vec![1_u8];
        frame.extend_from_slice(&2_u64.to_le_bytes());
        frame.extend_from_slice(b"-7");
        frame.push(0);
        frame.push(1);
        frame.extend_from_slice(&0_u64.to_le_bytes());
        assert_eq!(
            row_hash(&[Value::Int(-7), Value::Null, Value::Text("".into())]),
            xxh3_128(&frame)
        );
        // The hasher is reused row after row: nothing of one row leaks into the next.
        assert_eq!(
            row_hash(&[Value::Int(-7), Value::Null, Value::Text("".into())]),
            xxh3_128(&frame)
        );
    }

    #[test]
    fn order_does_not_matter_but_content_and_duplicates_do() {
        let a = vec![Value::Int(1), Value::Text("x".into())];
        let b = vec![Value::Int(2), Value::Null];
        assert_eq!(
            checksum(&[a.clone(), b.clone()]),
            checksum(&[b.clone(), a.clone()])
        );
        assert_ne!(
            checksum(&[a.clone(), a.clone()]),
            checksum(std::slice::from_ref(&a))
        );
        assert_ne!(
            checksum(&[a.clone(), a.clone(), b.clone(), b.clone()]),
            checksum(&[])
        );
        let empty = vec![Value::Int(2), Value::Text("".into())];
        assert_ne!(checksum(&[b]), checksum(&[empty]));
        let split = |left: &str, right: &str| {
            checksum(&[vec![Value::Text(left.into()), Value::Text(right.into())]])
        };
        assert_ne!(split("ab", "c"), split("a", "bc"));
        assert_eq!(
            checksum(&[vec![Value::Decimal("2.50".into())]]),
            checksum(&[vec![Value::Float(2.5)]])
        );
        let (first, second) = (
            checksum(std::slice::from_ref(&a)),
            checksum(&[vec![Value::Int(3)]]),
        );
        assert_eq!(first.merge(second), checksum(&[a, vec![Value::Int(3)]]));
    }
}
