//! Source code for diagnostics that renders for every input: a policy
//! written as one 70 KB line would put a label at a column past 65,535,
//! where miette's graphical reporter panics. Lines longer than
//! [`MAX_LINE`] are shown as a window of the source around the label.

use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Lines up to this many bytes are shown whole, with their context lines.
pub const MAX_LINE: usize = 400;
/// Bytes shown on each side of a label on a longer line.
const CONTEXT: usize = 80;

/// A named source whose long lines are windowed around the span.
#[derive(Debug, Clone)]
pub struct Snippet {
    name: String,
    text: Arc<str>,
}

impl Snippet {
    pub fn new(name: impl Into<String>, text: Arc<str>) -> Snippet {
        Snippet {
            name: name.into(),
            text,
        }
    }
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text: &'a str = &self.text;
        let whole = text.read_span(span, context_lines_before, context_lines_after)?;
        let longest = whole
            .data()
            .split(|b| *b == b'\n')
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0);
        if longest <= MAX_LINE {
            return Ok(Box::new(MietteSpanContents::new_named(
                self.name.clone(),
                whole.data(),
                *whole.span(),
                whole.line(),
                whole.column(),
                whole.line_count(),
            )));
        }
        // The window: the label (at most MAX_LINE of it) with CONTEXT bytes
        // either side, cut at character boundaries and within the label's
        // own line.
        let offset = span.offset().min(text.len());
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let label_end = (offset + span.len()).min(line_end).min(offset + MAX_LINE);
        let mut start = offset.saturating_sub(CONTEXT).max(line_start);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (label_end + CONTEXT).min(line_end);
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let line = text[..start].matches('\n').count();
        let column = text[line_start..start].chars().count();
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            &text.as_bytes()[start..end],
            SourceSpan::from((start, end - start)),
            line,
            column,
            1,
        )))
    }
}
