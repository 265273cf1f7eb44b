//! Rows read as the values SQLite stores, for answers written without a JSON array per row.
//!
//! [`select_values`](crate::select_values) reads each column bare; the driver records each
//! value as SQLite typed it in a [`TypedRow`], and [`RowWriter::write_typed`] writes the row's
//! wire object from it. SQLite building a JSON array per row and dynex taking it apart again
//! cost a page of 20 rows more than reading the rows did.
//!
//! [`RowWriter::write_typed`]: crate::RowWriter::write_typed

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
    pub(crate) cells: Vec<Cell>,
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

    /// Empties the row and keeps its room, for the next row of a read.
    pub fn clear(&mut self) {
        self.text.clear();
        self.cells.clear();
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

    /// The number of values.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The last value when it is an integer: the identifier that
    /// [`select_values_of_keys`](crate::select_values_of_keys) reads after the columns.
    pub fn last_int(&self) -> Option<i64> {
        match self.cells.last() {
            Some(Cell::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// The text of a `Real` or `Text` value.
    pub(crate) fn str(&self, start: u32, end: u32) -> &str {
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }
}
