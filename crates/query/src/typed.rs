//! Rows read as the values SQLite stores, for answers written without a JSON array per row.
//!
//! [`select_values`](crate::select_values) reads each column bare; the driver hands each row
//! over as a [`StoredRow`] (the statement's own row, or the values recorded in a [`TypedRow`]),
//! and [`RowWriter::write_typed`] writes the row's wire object from it. SQLite building a JSON
//! array per row and dynex taking it apart again cost a page of 20 rows more than reading the
//! rows did.
//!
//! [`RowWriter::write_typed`]: crate::RowWriter::write_typed

/// A row's values as SQLite stores them, read one at a time: a [`TypedRow`], or the row a
/// SQLite statement stands on, read without a copy.
pub trait StoredRow {
    /// The number of values.
    fn len(&self) -> usize;

    /// Whether the row has no values.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `index` (from 0); `Null` past the last.
    fn value(&self, index: usize) -> Stored<'_>;

    /// The last value when it is an integer: the identifier that
    /// [`select_values_of_keys`](crate::select_values_of_keys) reads after the columns.
    fn last_int(&self) -> Option<i64> {
        match self.value(self.len().checked_sub(1)?) {
            Stored::Int(n) => Some(n),
            _ => None,
        }
    }
}

/// One value of a [`StoredRow`], as SQLite stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored<'a> {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point value, as SQLite writes it in text and JSON alike (`%!.17g`).
    Real(&'a str),
    /// Text (bytes that are not UTF-8 replaced, as diesel reads them).
    Text(std::borrow::Cow<'a, str>),
    /// A BLOB, which no JSON answer holds.
    Blob,
}

/// One value of a [`TypedRow`]; text is a byte range of the row's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point value, as SQLite writes it in text and JSON alike (`%!.17g`).
    Real(u32, u32),
    /// Text.
    Text(u32, u32),
}

/// The values of one row, in the order of the statement's columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypedRow {
    /// The text of every `Real` and `Text` value, one after another.
    text: String,
    cells: Vec<Cell>,
}

impl TypedRow {
    /// An empty row with room for `columns` values.
    pub fn with_capacity(columns: usize) -> Self {
        TypedRow {
            // Room for a row of short values, which spares most rows growing it.
            text: String::with_capacity(32 * columns),
            cells: Vec::with_capacity(columns),
        }
    }

    /// Appends SQL `NULL`.
    pub fn push_null(&mut self) {
        self.cells.push(Cell::Null);
    }

    /// Appends an integer.
    pub fn push_int(&mut self, value: i64) {
        self.cells.push(Cell::Int(value));
    }

    /// Appends a floating-point value by the text SQLite gives it (`sqlite3_value_text`), which
    /// is the text its `json_array` writes: both format the double with `%!.17g`.
    pub fn push_real(&mut self, text: &str) {
        let range = self.push_str(text);
        self.cells.push(Cell::Real(range.0, range.1));
    }

    /// Appends text.
    pub fn push_text(&mut self, text: &str) {
        let range = self.push_str(text);
        self.cells.push(Cell::Text(range.0, range.1));
    }

    fn push_str(&mut self, text: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(text);
        let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        (at(start), at(self.text.len()))
    }

    /// The text of a `Real` or `Text` value.
    fn str(&self, start: u32, end: u32) -> &str {
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }
}

impl StoredRow for TypedRow {
    fn len(&self) -> usize {
        self.cells.len()
    }

    fn value(&self, index: usize) -> Stored<'_> {
        match self.cells.get(index).copied().unwrap_or(Cell::Null) {
            Cell::Null => Stored::Null,
            Cell::Int(n) => Stored::Int(n),
            Cell::Real(start, end) => Stored::Real(self.str(start, end)),
            Cell::Text(start, end) => {
                Stored::Text(std::borrow::Cow::Borrowed(self.str(start, end)))
            }
        }
    }
}
