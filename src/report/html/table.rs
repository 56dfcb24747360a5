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

/// A table in a box that scrolls sideways on a narrow screen, written to `out` row by row and
/// closed when dropped.
pub(super) struct Table<'a> {
    out: &'a mut String,
}

impl<'a> Table<'a> {
    /// Opens a table with these column headers.
    pub(super) fn new(out: &'a mut String, headers: &[&str]) -> Table<'a> {
        out.push_str("<div class=\"scroll\"><table><tr>");
        for h in headers {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr>\n");
        Table { out }
    }

    pub(super) fn row(&mut self, cells: &[Cell]) {
        self.out.push_str("<tr>");
        for cell in cells {
            let _ = match cell {
                Cell::Text(text) => write!(self.out, "<td>{}</td>", esc(text)),
                Cell::Num(text) => write!(self.out, "<td class=\"n\">{}</td>", esc(text)),
                Cell::Long(text) => write!(self.out, "<td class=\"t\">{}</td>", esc(text)),
                Cell::Code(text) => write!(self.out, "<td><code>{}</code></td>", esc(text)),
                Cell::Markup(html) => write!(self.out, "<td>{html}</td>"),
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
            "<div class=\"scroll\"><table><tr><th>URL</th><th>result</th></tr>\n\
             <tr><td class=\"t\">http://a/&lt;script&gt;</td><td><span class=\"passed\">passed</span></td></tr>\n\
             <tr><td class=\"n\">3</td><td><code>--fail-on-status &#39;5xx&#39;</code></td></tr>\n\
             </table></div>\n"
        );
    }
}
