//! Laying a [`Document`](super::document::Document) out as Markdown (for a forge), one
//! self-contained HTML file (for a browser) and LaTeX with booktabs (for a paper).

pub mod html;
pub mod latex;
pub mod markdown;

use super::document::{Header, Table};

/// Each column's header texts top to bottom, spans expanded (for formats without spans).
fn column_headers(table: &Table) -> Vec<Vec<String>> {
    let width = table.rows.first().map_or(0, Vec::len).max(
        table
            .header
            .iter()
            .map(|r| r.iter().map(|h| h.span).sum::<usize>())
            .max()
            .unwrap_or(0),
    );
    let mut columns = vec![Vec::new(); width];
    for row in &table.header {
        let mut at = 0;
        for Header { text, span } in row {
            let end = (at + span).min(width);
            if !text.is_empty() && at < end {
                for column in &mut columns[at..end] {
                    column.push(text.clone());
                }
            }
            at += span;
        }
    }
    columns
}

/// The body with repeated labels blanked, as the paper prints grouped rows.
fn blanked_rows(table: &Table) -> Vec<Vec<Option<&super::document::Entry>>> {
    let mut previous: Vec<String> = vec![];
    table
        .rows
        .iter()
        .map(|row| {
            let mut same_so_far = true;
            let out = row
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    if i < table.label_columns {
                        let text = e.plain();
                        let same = same_so_far && previous.get(i) == Some(&text);
                        same_so_far = same;
                        if same {
                            return None;
                        }
                    }
                    Some(e)
                })
                .collect();
            previous = row.iter().map(|e| e.plain()).collect();
            out
        })
        .collect()
}
