//! The page's tables, written through one helper whose cells are text unless a cell says it is
//! blip's own markup: a report's strings (URLs, errors, gate names, a server's answers) are
//! escaped by default, not by remembering to.

use std::fmt::Write;

use super::esc;

/// One cell of a row.
pub(super) enum Cell {
    /// Text, escaped when written.
    Text(String),
    /// A figure, right-aligned (`class="n"`), escaped when written.
    Num(String),
    /// Long text that may break anywhere, such as a URL or an error (`class="t"`), escaped.
    Long(String),
    /// Text shown as code, escaped.
    Code(String),
    /// Markup blip wrote itself, written as it is.
    Markup(&'static str),
}

impl Cell {
    pub(super) fn text(text: impl ToString) -> Cell {
        Cell::Text(text.to_string())
    }

    pub(super) fn num(figure: impl ToString) -> Cell {
        Cell::Num(figure.to_string())
    }

    pub(super) fn long(text: impl ToString) -> Cell {
        Cell::Long(text.to_string())
    }

    pub(super) fn code(text: impl ToString) -> Cell {
        Cell::Code(text.to_string())
    }
}

/// A table written to `out` row by row and closed when dropped. On a wide screen it is a table
/// (in a box that scrolls sideways if it must); below 640 px each row is a card whose cells
/// are named by their column (`data-label`, html.css), so no column is off-screen on a phone.
pub(super) struct Table<'a> {
    out: &'a mut String,
    /// The column headers, escaped, for each cell's `data-label`.
    labels: Vec<String>,
}

impl<'a> Table<'a> {
    /// Opens a table with these column headers.
    pub(super) fn new(out: &'a mut String, headers: &[&str]) -> Table<'a> {
        out.push_str("<div class=\"scroll\"><table class=\"cards\"><tr>");
        let labels: Vec<String> = headers.iter().map(|h| esc(h)).collect();
        for h in &labels {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr>\n");
        Table { out, labels }
    }

    pub(super) fn row(&mut self, cells: &[Cell]) {
        self.out.push_str("<tr>");
        for (i, cell) in cells.iter().enumerate() {
            let label = self.labels.get(i).map(String::as_str).unwrap_or_default();
            let _ = match cell {
                Cell::Text(text) => write!(self.out, "<td data-label=\"{label}\">{}</td>", esc(text)),
                Cell::Num(text) => write!(self.out, "<td class=\"n\" data-label=\"{label}\">{}</td>", esc(text)),
                Cell::Long(text) => write!(self.out, "<td class=\"t\" data-label=\"{label}\">{}</td>", esc(text)),
                Cell::Code(text) => write!(self.out, "<td data-label=\"{label}\"><code>{}</code></td>", esc(text)),
                Cell::Markup(html) => write!(self.out, "<td data-label=\"{label}\">{html}</td>"),
            };
        }
        self.out.push_str("</tr>\n");
    }
}

impl Drop for Table<'_> {
    fn drop(&mut self) {
        self.out.push_str("</table></div>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_are_escaped_and_markup_is_not() {
        let mut out = String::new();
        {
            let mut table = Table::new(&mut out, &["URL", "result"]);
            table.row(&[Cell::long("http://a/<script>"), Cell::Markup("<span class=\"passed\">passed</span>")]);
            table.row(&[Cell::num(3), Cell::code("--fail-on-status '5xx'")]);
        }
        assert_eq!(
            out,
            "<div class=\"scroll\"><table class=\"cards\"><tr><th>URL</th><th>result</th></tr>\n\
             <tr><td class=\"t\" data-label=\"URL\">http://a/&lt;script&gt;</td>\
             <td data-label=\"result\"><span class=\"passed\">passed</span></td></tr>\n\
             <tr><td class=\"n\" data-label=\"URL\">3</td>\
             <td data-label=\"result\"><code>--fail-on-status &#39;5xx&#39;</code></td></tr>\n\
             </table></div>\n"
        );
    }
}
