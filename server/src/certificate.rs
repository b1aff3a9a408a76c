//! The burn-in certificate as a PDF, and the job page's QR code as SVG.
//!
//! The PDF is written operator by operator with `pdf-writer`, in typefaces compiled into the
//! binary and embedded as subsets (see `fonts`): it looks the same in every reader and on
//! every printer, and names, notes and places in any Latin, Greek or Cyrillic script print as
//! written. Text is measured with the faces' own metrics and wrapped or cut short before it
//! could run off the page.

use std::fmt::Write as _;
use std::io::Write as _;

use burnin::record::{Certificate, CurvePoint, Defect};

mod fonts;
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use qrcode::types::QrError;
use qrcode::{Color, EcLevel, QrCode};

/// The paper a certificate is laid out for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paper {
    A4,
    Letter,
}

impl Paper {
    /// `a4` or `letter`, in any case.
    pub fn parse(text: &str) -> Option<Paper> {
        match text.trim().to_ascii_lowercase().as_str() {
            "a4" => Some(Paper::A4),
            "letter" => Some(Paper::Letter),
            _ => None,
        }
    }

    /// Width and height in points.
    pub fn size(self) -> (f32, f32) {
        match self {
            Paper::A4 => (595.0, 842.0),
            Paper::Letter => (612.0, 792.0),
        }
    }
}

/// Why a QR code could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error(
        "the QR code's text is {len} bytes, more than a QR code holds ({QR_MAX_BYTES} bytes); \
         set a shorter public URL in the settings"
    )]
    QrTooLong { len: usize },
    #[error(
        "the QR encoder refused the text ({reason}); this is a bug in the certificate code, \
         report it with the text that was encoded"
    )]
    QrEncoder { reason: String },
    #[error(
        "the certificate's font {font} could not be embedded ({reason}); the build is broken: \
         rebuild from a clean checkout, and report it if it stays"
    )]
    Font { font: &'static str, reason: String },
}

/// The most bytes a QR code holds (version 40, error correction L, byte mode).
const QR_MAX_BYTES: usize = 2953;
/// The light border a reader needs around a QR code, in modules (ISO/IEC 18004).
const QR_QUIET: usize = 4;

/// A QR code's modules, row by row, `true` for dark.
struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    fn new(text: &str) -> Result<QrMatrix, CertificateError> {
        // M still scans from a scuffed or badly printed sheet; L only when the text is too
        // long for M, since a code that cannot be made helps nobody.
        let code = match QrCode::with_error_correction_level(text, EcLevel::M) {
            Err(QrError::DataTooLong) => QrCode::with_error_correction_level(text, EcLevel::L),
            other => other,
        }
        .map_err(|error| match error {
            QrError::DataTooLong => CertificateError::QrTooLong { len: text.len() },
            other => CertificateError::QrEncoder { reason: other.to_string() },
        })?;
        let width = code.width();
        let dark = code.into_colors().into_iter().map(|c| c == Color::Dark).collect();
        Ok(QrMatrix { width, dark })
    }

    /// Horizontal runs of dark modules as (row, first column, length): one rectangle per run
    /// instead of per module keeps the SVG and the PDF small and leaves no hairline seams
    /// between neighbouring modules when a viewer anti-aliases.
    fn runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs = Vec::new();
        for (row, cells) in self.dark.chunks(self.width.max(1)).enumerate() {
            let mut start = None;
            for (col, &dark) in cells.iter().chain(std::iter::once(&false)).enumerate() {
                match (dark, start) {
                    (true, None) => start = Some(col),
                    (false, Some(first)) => {
                        runs.push((row, first, col - first));
                        start = None;
                    }
                    _ => {}
                }
            }
        }
        runs
    }
}

/// A standalone SVG of a QR code for `text`: black modules on white, with the quiet zone.
pub fn qr_svg(text: &str) -> Result<String, CertificateError> {
    let matrix = QrMatrix::new(text)?;
    let size = matrix.width + 2 * QR_QUIET;
    let mut path = String::new();
    for (row, col, len) in matrix.runs() {
        let _ = write!(path, "M{} {}h{len}v1h-{len}z", col + QR_QUIET, row + QR_QUIET);
    }
    let label = xml_escape(&format!("QR code for {text}"));
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         width=\"{px}\" height=\"{px}\" shape-rendering=\"crispEdges\" role=\"img\" \
         aria-label=\"{label}\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>",
        px = size * 4,
    ))
}

fn xml_escape(text: &str) -> String {
    // XML 1.0 forbids most control characters even escaped.
    let printable: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    burnin::notify::escape(&printable)
}

// ----------------------------------------------------------------------------------------
// Text: the embedded faces' metrics.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
    Mono,
}

impl Font {
    const ALL: [Font; 3] = [Font::Regular, Font::Bold, Font::Mono];

    fn index(self) -> usize {
        match self {
            Font::Regular => 0,
            Font::Bold => 1,
            Font::Mono => 2,
        }
    }

    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
            Font::Mono => Name(b"F3"),
        }
    }

    /// Advance width of `c` in thousandths of the font size.
    fn advance(self, c: char) -> f32 {
        fonts::typeface(self).advance(c)
    }

    fn width(self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size / 1000.0
    }
}

/// The mark for text cut short.
const ELLIPSIS: char = '…';

/// `text` as one line: control characters and other spaces (tabs, newlines) become plain
/// spaces, so a stray newline cannot break a line's layout.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() || c.is_whitespace() { ' ' } else { c }).collect()
}

/// How many leading bytes of `text` fit in `width` (always at a character's boundary).
fn fitting(text: &str, font: Font, size: f32, width: f32) -> usize {
    let mut used = 0.0;
    for (i, c) in text.char_indices() {
        used += font.advance(c) * size / 1000.0;
        if used > width + 0.01 {
            return i;
        }
    }
    text.len()
}

/// The first character of `text`'s byte length, for a word too narrow to split anywhere else.
fn first_char_len(text: &str) -> usize {
    text.chars().next().map_or(text.len(), char::len_utf8)
}

/// `text` cut to fit `room` and ended with an ellipsis, even when it would have fitted.
fn cut(text: &str, font: Font, size: f32, width: f32) -> String {
    let room = (width - font.width(&ELLIPSIS.to_string(), size)).max(0.0);
    let mut out = text[..fitting(text, font, size, room)].trim_end_matches(' ').to_owned();
    out.push(ELLIPSIS);
    out
}

/// `text` on one line of `width`, cut short with an ellipsis if it is wider.
fn fit(text: &str, font: Font, size: f32, width: f32) -> String {
    let text = clean(text);
    if font.width(&text, size) <= width + 0.01 {
        return text;
    }
    cut(&text, font, size, width)
}

/// The largest size from `max` down to `min` (in half points) at which `text` fits on one line
/// of `width`: a model number or an address reads better a little smaller than broken.
fn shrink_to_fit(text: &str, font: Font, max: f32, min: f32, width: f32) -> f32 {
    let mut size = max;
    while size - 0.5 >= min && font.width(text, size) > width + 0.01 {
        size -= 0.5;
    }
    size
}

/// `text` broken into lines of `width`: at spaces where possible, anywhere inside a word too
/// long for a line (hashes, addresses). Past `max_lines` the last line ends in an ellipsis.
/// Always at least one (maybe empty) line, so a blank cell still has a height.
fn wrap(text: &str, font: Font, size: f32, width: f32, max_lines: usize) -> Vec<String> {
    let text = clean(text);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let with_space = if line.is_empty() { 0.0 } else { font.advance(' ') * size / 1000.0 };
        if font.width(&line, size) + with_space + font.width(word, size) <= width + 0.01 {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word;
        while font.width(rest, size) > width + 0.01 {
            let n = match fitting(rest, font, size, width) {
                0 => first_char_len(rest),
                n => n,
            };
            lines.push(rest[..n].to_owned());
            rest = &rest[n..];
        }
        line = rest.to_owned();
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines.max(1) {
        lines.truncate(max_lines.max(1));
        if let Some(last) = lines.last_mut() {
            *last = cut(last, font, size, width);
        }
    }
    lines
}
// ----------------------------------------------------------------------------------------
// Layout.

type Rgb = (f32, f32, f32);

const BLACK: Rgb = (0.0, 0.0, 0.0);
const WHITE: Rgb = (1.0, 1.0, 1.0);
const DARK: Rgb = (0.15, 0.15, 0.17);
const MUTED: Rgb = (0.40, 0.42, 0.45);
const RULE: Rgb = (0.80, 0.81, 0.83);
const SHADE: Rgb = (0.94, 0.945, 0.95);
const GREEN: Rgb = (0.08, 0.50, 0.24);
const AMBER: Rgb = (0.71, 0.40, 0.02);
const RED: Rgb = (0.73, 0.11, 0.11);
const GREY: Rgb = (0.42, 0.45, 0.50);

/// The throughput chart's line colours, one per phase, distinct in print and for the common
/// colour-vision deficiencies (Okabe–Ito).
const SERIES: [Rgb; 7] = [
    (0.0, 0.447, 0.698),
    (0.835, 0.369, 0.0),
    (0.0, 0.620, 0.451),
    (0.800, 0.475, 0.655),
    (0.337, 0.706, 0.914),
    (0.902, 0.624, 0.0),
    (0.2, 0.2, 0.2),
];

const MARGIN: f32 = 40.0;
/// Height kept free above the bottom margin for the footer.
const FOOTER: f32 = 40.0;

fn verdict_colour(outcome: &str) -> Rgb {
    match outcome.trim().to_ascii_uppercase().as_str() {
        "PASS" => GREEN,
        "PASS WITH WARNINGS" => AMBER,
        "FAIL" => RED,
        _ => GREY,
    }
}

/// The document being laid out: finished pages, the page being filled, and how far down it
/// is filled (`y`, in PDF coordinates, so it decreases).
struct Doc<'u> {
    width: f32,
    height: f32,
    done: Vec<Content>,
    page: Content,
    y: f32,
    /// The glyphs shown so far, shared by every certificate in one PDF.
    used: &'u mut fonts::Used,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// A table cell: its text, how it looks, and an optional smaller grey line under it.
struct Cell {
    text: String,
    font: Font,
    colour: Rgb,
    note: Option<String>,
}

impl Cell {
    fn new(text: &str) -> Cell {
        Cell { text: text.to_owned(), font: Font::Regular, colour: DARK, note: None }
    }

    fn bold(mut self) -> Cell {
        self.font = Font::Bold;
        self
    }

    fn colour(mut self, colour: Rgb) -> Cell {
        self.colour = colour;
        self
    }

    fn note(mut self, note: &str) -> Cell {
        let note = note.trim();
        self.note = (!note.is_empty()).then(|| note.to_owned());
        self
    }
}

struct Column {
    title: &'static str,
    /// Relative width; the columns share the text width in proportion.
    share: f32,
    align: Align,
}

const fn col(title: &'static str, share: f32, align: Align) -> Column {
    Column { title, share, align }
}

const TABLE_SIZE: f32 = 7.5;
const TABLE_LEADING: f32 = 9.0;
const NOTE_SIZE: f32 = 6.5;
const NOTE_LEADING: f32 = 7.8;
const CELL_PAD: f32 = 3.0;

/// A table cell wrapped to its column: its lines and its note's lines.
type LaidCell = (Vec<String>, Vec<String>);

impl<'u> Doc<'u> {
    fn new(paper: Paper, used: &'u mut fonts::Used) -> Doc<'u> {
        let (width, height) = paper.size();
        Doc { width, height, done: Vec::new(), page: Content::new(), y: height - MARGIN, used }
    }

    fn left(&self) -> f32 {
        MARGIN
    }

    fn right(&self) -> f32 {
        self.width - MARGIN
    }

    fn text_width(&self) -> f32 {
        self.right() - self.left()
    }

    fn bottom(&self) -> f32 {
        MARGIN + FOOTER
    }

    fn new_page(&mut self) {
        let page = std::mem::replace(&mut self.page, Content::new());
        self.done.push(page);
        self.y = self.height - MARGIN;
    }

    /// Starts a new page unless `needed` points are left on this one; says whether it did.
    fn room(&mut self, needed: f32) -> bool {
        if self.y - needed < self.bottom() {
            self.new_page();
            true
        } else {
            false
        }
    }

    fn text(&mut self, x: f32, baseline: f32, font: Font, size: f32, colour: Rgb, text: &str) {
        if text.is_empty() {
            return;
        }
        let glyphs = self.used.encode(font, text);
        self.page.set_fill_rgb(colour.0, colour.1, colour.2);
        self.page.begin_text();
        self.page.set_font(font.resource(), size);
        self.page.next_line(x, baseline);
        self.page.show(Str(&glyphs));
        self.page.end_text();
    }

    fn text_right(&mut self, right: f32, baseline: f32, font: Font, size: f32, c: Rgb, t: &str) {
        let x = right - font.width(t, size);
        self.text(x, baseline, font, size, c, t);
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, colour: Rgb) {
        self.page.set_fill_rgb(colour.0, colour.1, colour.2);
        self.page.rect(x, y, w, h);
        self.page.fill_nonzero();
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, colour: Rgb) {
        self.page.set_stroke_rgb(colour.0, colour.1, colour.2);
        self.page.set_line_width(width);
        self.page.move_to(from.0, from.1);
        self.page.line_to(to.0, to.1);
        self.page.stroke();
    }

    /// Wrapped text across the full width (or `width` from `x`), moving down as it goes and
    /// onto new pages as needed.
    fn paragraph(&mut self, text: &str, font: Font, size: f32, colour: Rgb) {
        let leading = size * 1.3;
        for line in wrap(text, font, size, self.text_width(), 40) {
            self.room(leading);
            self.y -= leading;
            self.text(self.left(), self.y + size * 0.25, font, size, colour, &line);
        }
        self.y -= 2.0;
    }

    /// A section heading; `keep` is the height of what must follow it on the same page, so a
    /// heading never sits alone at the bottom of a page.
    fn heading(&mut self, title: &str, keep: f32) {
        self.room(24.0 + keep);
        self.y -= 10.0;
        let baseline = self.y - 10.0;
        self.text(self.left(), baseline, Font::Bold, 10.5, BLACK, &clean(title));
        self.y -= 14.0;
        self.line((self.left(), self.y), (self.right(), self.y), 0.6, RULE);
        self.y -= 3.0;
    }

    fn column_widths(&self, columns: &[Column]) -> Vec<f32> {
        let total: f32 = columns.iter().map(|c| c.share).sum::<f32>().max(1.0);
        columns.iter().map(|c| c.share / total * self.text_width()).collect()
    }

    fn table_header(&mut self, columns: &[Column], widths: &[f32]) {
        let height = TABLE_LEADING + 2.0 * CELL_PAD;
        self.fill_rect(self.left(), self.y - height, self.text_width(), height, SHADE);
        let mut x = self.left();
        let baseline = self.y - CELL_PAD - TABLE_SIZE;
        for (column, &w) in columns.iter().zip(widths) {
            let inner = w - 2.0 * CELL_PAD;
            let size = shrink_to_fit(column.title, Font::Bold, 7.0, 5.5, inner);
            let title = fit(column.title, Font::Bold, size, inner);
            match column.align {
                Align::Left => self.text(x + CELL_PAD, baseline, Font::Bold, size, MUTED, &title),
                Align::Right => {
                    self.text_right(x + w - CELL_PAD, baseline, Font::Bold, size, MUTED, &title)
                }
            }
            x += w;
        }
        self.y -= height;
    }

    /// A table that continues on the next page, under its heading and header again, when it
    /// does not fit.
    fn table(&mut self, title: &str, columns: &[Column], rows: Vec<Vec<Cell>>) {
        let widths = self.column_widths(columns);
        let laid: Vec<Vec<LaidCell>> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&widths)
                    .map(|(cell, &w)| {
                        let inner = w - 2.0 * CELL_PAD;
                        let lines = wrap(&cell.text, cell.font, TABLE_SIZE, inner, 3);
                        let notes = cell
                            .note
                            .as_ref()
                            .map(|n| wrap(n, Font::Regular, NOTE_SIZE, inner, 3))
                            .unwrap_or_default();
                        (lines, notes)
                    })
                    .collect()
            })
            .collect();
        let height_of = |cells: &Vec<LaidCell>| {
            cells
                .iter()
                .map(|(lines, notes)| {
                    lines.len() as f32 * TABLE_LEADING + notes.len() as f32 * NOTE_LEADING
                })
                .fold(TABLE_LEADING, f32::max)
                + 2.0 * CELL_PAD
        };
        let header = TABLE_LEADING + 2.0 * CELL_PAD;
        let first = laid.first().map_or(0.0, height_of);
        self.heading(title, header + first);
        self.table_header(columns, &widths);
        for (row, cells) in rows.iter().zip(&laid) {
            let height = height_of(cells);
            if self.room(height) {
                self.heading(&format!("{title} (continued)"), header + height);
                self.table_header(columns, &widths);
            }
            let mut x = self.left();
            for (((cell, (lines, notes)), &w), column) in
                row.iter().zip(cells).zip(&widths).zip(columns)
            {
                let mut baseline = self.y - CELL_PAD - TABLE_SIZE + 0.5;
                for line in lines {
                    match column.align {
                        Align::Left => self.text(
                            x + CELL_PAD,
                            baseline,
                            cell.font,
                            TABLE_SIZE,
                            cell.colour,
                            line,
                        ),
                        Align::Right => self.text_right(
                            x + w - CELL_PAD,
                            baseline,
                            cell.font,
                            TABLE_SIZE,
                            cell.colour,
                            line,
                        ),
                    }
                    baseline -= TABLE_LEADING;
                }
                baseline += TABLE_LEADING - NOTE_LEADING;
                for note in notes {
                    self.text(x + CELL_PAD, baseline - 0.5, Font::Regular, NOTE_SIZE, MUTED, note);
                    baseline -= NOTE_LEADING;
                }
                x += w;
            }
            self.y -= height;
            self.line((self.left(), self.y), (self.right(), self.y), 0.4, RULE);
        }
        self.y -= 2.0;
    }
}

// ----------------------------------------------------------------------------------------
// Formatting.

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The record's `YYYY-MM-DDTHH:MM:SSZ` as `YYYY-MM-DD HH:MM:SS UTC`, or the text as it is.
fn when(text: &str) -> String {
    match split_utc(text) {
        Some((date, time)) => format!("{date} {time} UTC"),
        None => text.trim().to_owned(),
    }
}

/// Minutes are enough in a table; the column says the zone.
fn when_short(text: &str) -> String {
    match split_utc(text) {
        Some((date, time)) => format!("{date} {}", time.get(..5).unwrap_or(time)),
        None => text.trim().to_owned(),
    }
}

fn split_utc(text: &str) -> Option<(&str, &str)> {
    let text = text.trim();
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let shaped = date.len() == 10 && time.len() >= 8 && time.as_bytes().get(2) == Some(&b':');
    shaped.then_some((date, time.get(..8).unwrap_or(time)))
}

fn pdf_date(text: &str) -> Option<Date> {
    let (date, time) = split_utc(text)?;
    let number = |s: Option<&str>| s.and_then(|s| s.parse::<u16>().ok());
    let (year, month, day) =
        (number(date.get(..4))?, number(date.get(5..7))?, number(date.get(8..10))?);
    let (hour, minute, second) =
        (number(time.get(..2))?, number(time.get(3..5))?, number(time.get(6..8))?);
    let byte = |n: u16| u8::try_from(n).ok();
    Some(
        Date::new(year)
            .month(byte(month)?)
            .day(byte(day)?)
            .hour(byte(hour)?)
            .minute(byte(minute)?)
            .second(byte(second)?)
            .utc_offset_hour(0),
    )
}

fn mb_s(value: f64) -> String {
    if !value.is_finite() {
        "–".to_owned()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn clock(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn or_dash(value: Option<&str>) -> String {
    value.map(str::trim).filter(|v| !v.is_empty()).unwrap_or("–").to_owned()
}

/// A 1-2-2.5-5 step that splits `max` into about six intervals.
fn nice_step(max: f64) -> f64 {
    let rough = (max / 6.0).max(1e-9);
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * magnitude);
    step.max(1e-9)
}

// ----------------------------------------------------------------------------------------
// The certificate.

/// The certificate as a PDF laid out for `paper`.
///
/// Nothing in the certificate can stop the PDF from being made: a character the embedded
/// faces lack prints as `?`, long text wraps or is cut short, and an address too long for a QR
/// code is printed without one. Only a broken build (a font file that does not parse or
/// subset) is an error.
pub fn pdf(cert: &Certificate, paper: Paper) -> Result<Vec<u8>, CertificateError> {
    fonts::check()?;
    let info = Info {
        title: format!("Burn-in certificate {}", cert.serial.trim()),
        subject: format!("{} — job {}", cert.outcome, cert.job_id),
        created: cert.sealed_at.clone(),
    };
    let mut used = fonts::Used::default();
    let pages = pages(cert, paper, &mut used, Detail::Full);
    assemble(&info, paper, pages, &used)
}

/// A certificate's file name: `burnin-<serial>-job<id>.pdf`.
pub fn file_name(cert: &Certificate) -> String {
    format!("burnin-{}-job{}.pdf", file_safe(cert.serial.trim()), cert.job_id)
}

/// A serial as a file name's part: letters, digits, `-` and `_` only.
pub fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

/// Most certificates one batch holds: a page each, laid out in memory.
pub const BATCH_MAX: usize = 200;

/// Several certificates in one PDF, one page each, in the order given: a lot of drives printed
/// or filed at once. Each page is the job's certificate cut to what decided its verdict (the
/// drive, the reasons, the stages, the SMART counters, bad blocks and temperatures), with the
/// same footer, hash and QR code; the job's own certificate holds the rest.
pub fn batch_pdf(certs: &[Certificate], paper: Paper) -> Result<Vec<u8>, CertificateError> {
    fonts::check()?;
    let outcomes = |outcome: &str| certs.iter().filter(|c| c.outcome == outcome).count();
    let info = Info {
        title: format!("Burn-in certificates ({} drives)", certs.len()),
        subject: format!(
            "{} pass, {} warn, {} fail, {} incomplete",
            outcomes("pass"),
            outcomes("warn"),
            outcomes("fail"),
            outcomes("incomplete")
        ),
        created: certs.iter().map(|c| c.sealed_at.clone()).max().unwrap_or_default(),
    };
    let mut used = fonts::Used::default();
    let mut all: Vec<Vec<u8>> = Vec::with_capacity(certs.len());
    // From the most that could fit to the least: many reasons or stages cost the counters
    // (the reasons name the ones that mattered), then reasons. Laying out a page takes well
    // under a millisecond, so trying is cheaper than predicting.
    const LADDER: [(usize, Counters); 5] = [
        (8, Counters::All),
        (8, Counters::Changed),
        (4, Counters::Changed),
        (8, Counters::Left),
        (3, Counters::Left),
    ];
    for cert in certs {
        let mut laid = Vec::new();
        for (reasons, counters) in LADDER {
            laid = pages(cert, paper, &mut used, Detail::Summary { reasons, counters });
            if laid.len() == 1 {
                break;
            }
        }
        all.extend(laid);
    }
    assemble(&info, paper, all, &used)
}

/// How much of a certificate its pages hold.
#[derive(Clone, Copy, Debug)]
enum Detail {
    /// Everything: one job's certificate.
    Full,
    /// A batch's page: at most `reasons` reasons, the counters as `counters` says, and one
    /// paragraph for the surface test and temperatures instead of their tables and chart.
    Summary { reasons: usize, counters: Counters },
}

/// Which SMART counters a certificate's table lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counters {
    All,
    /// The changed ones, and how many others did not change.
    Changed,
    /// None: the table is left out.
    Left,
}

/// One certificate's pages, footers included, as finished content streams.
fn pages(cert: &Certificate, paper: Paper, used: &mut fonts::Used, detail: Detail) -> Vec<Vec<u8>> {
    let mut doc = Doc::new(paper, used);
    header(&mut doc, cert);
    drive(&mut doc, cert);
    match detail {
        Detail::Full => {
            reasons(&mut doc, cert, usize::MAX);
            stages(&mut doc, cert);
            // The counters before the timings: they weigh in the verdict, the timings only
            // explain.
            counters(&mut doc, cert, Counters::All);
            phases(&mut doc, cert);
            chart(&mut doc, cert);
            defects(&mut doc, cert);
            temperature(&mut doc, cert);
            thresholds(&mut doc, cert);
        }
        Detail::Summary { reasons: most, counters: which } => {
            reasons(&mut doc, cert, most);
            stages(&mut doc, cert);
            counters(&mut doc, cert, which);
            outline(&mut doc, cert);
        }
    }
    let last = std::mem::replace(&mut doc.page, Content::new());
    doc.done.push(last);
    let pages = std::mem::take(&mut doc.done);
    let total = pages.len();
    let mut finished = Vec::with_capacity(total);
    for (i, page) in pages.into_iter().enumerate() {
        // The footer goes on last: only now is the page count known.
        doc.page = page;
        footer(&mut doc, cert, i + 1, total);
        let page = std::mem::replace(&mut doc.page, Content::new());
        finished.push(page.finish().into_vec());
    }
    finished
}

/// The document's properties.
struct Info {
    title: String,
    subject: String,
    /// RFC 3339; empty for none.
    created: String,
}

fn assemble(
    info: &Info,
    paper: Paper,
    pages: Vec<Vec<u8>>,
    used: &fonts::Used,
) -> Result<Vec<u8>, CertificateError> {
    let (width, height) = paper.size();
    let mut next = 0;
    let mut alloc = || {
        next += 1;
        Ref::new(next)
    };
    let catalog = alloc();
    let tree = alloc();
    let info_id = alloc();
    let fonts: Vec<(Font, [Ref; 5])> = used
        .fonts()
        .into_iter()
        .map(|f| (f, [alloc(), alloc(), alloc(), alloc(), alloc()]))
        .collect();
    let ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(ids.iter().map(|&(page, _)| page)).count(ids.len() as i32);
    let mut document = pdf.document_info(info_id);
    document.title(TextStr(&info.title));
    document.producer(TextStr("burn-in dashboard"));
    document.subject(TextStr(&info.subject));
    if let Some(date) = pdf_date(&info.created) {
        document.creation_date(date);
    }
    document.finish();
    for &(font, refs) in &fonts {
        used.write(&mut pdf, font, refs)?;
    }
    for (&(page_id, content_id), content) in ids.iter().zip(&pages) {
        let mut page = pdf.page(page_id);
        page.parent(tree).media_box(Rect::new(0.0, 0.0, width, height)).contents(content_id);
        let mut resources = page.resources();
        let mut map = resources.fonts();
        for &(font, refs) in &fonts {
            map.pair(font.resource(), refs[0]);
        }
        map.finish();
        resources.finish();
        page.finish();
        match deflate(content) {
            Some(packed) => {
                pdf.stream(content_id, &packed).filter(Filter::FlateDecode);
            }
            None => {
                pdf.stream(content_id, content);
            }
        }
    }
    Ok(pdf.finish())
}

/// Content streams are mostly repeated operators; zlib shrinks them several times over.
fn deflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

fn header(doc: &mut Doc<'_>, cert: &Certificate) {
    let top = doc.y;
    doc.text(doc.left(), top - 18.0, Font::Bold, 20.0, BLACK, "Burn-in certificate");
    let right = doc.right();
    let sub = clean(&format!("Sealed {}", when(&cert.sealed_at)));
    doc.text_right(right, top - 8.0, Font::Regular, 7.5, MUTED, "burn-in dashboard");
    doc.text_right(
        right,
        top - 18.0,
        Font::Regular,
        7.5,
        MUTED,
        &fit(&sub, Font::Regular, 7.5, 220.0),
    );

    // The verdict band: the one thing a reader must not miss.
    let band_top = top - 28.0;
    let band = 40.0;
    let colour = verdict_colour(&cert.outcome);
    doc.fill_rect(doc.left(), band_top - band, doc.text_width(), band, colour);
    let job = clean(&format!("Job #{}", cert.job_id));
    let job_width = Font::Bold.width(&job, 13.0);
    let room = doc.text_width() - job_width - 40.0;
    let mut size = 24.0;
    let word = clean(cert.outcome.trim());
    let word = if word.is_empty() { "INCOMPLETE".to_owned() } else { word };
    while size > 12.0 && Font::Bold.width(&word, size) > room {
        size -= 1.0;
    }
    let word = fit(&word, Font::Bold, size, room);
    doc.text(
        doc.left() + 12.0,
        band_top - band / 2.0 - size * 0.35,
        Font::Bold,
        size,
        WHITE,
        &word,
    );
    doc.text_right(right - 12.0, band_top - 17.0, Font::Bold, 13.0, WHITE, &job);
    let state = clean(&format!("Job state: {}", cert.state));
    doc.text_right(
        right - 12.0,
        band_top - 30.0,
        Font::Regular,
        8.0,
        WHITE,
        &fit(&state, Font::Regular, 8.0, 160.0),
    );
    doc.y = band_top - band - 4.0;
}

fn drive(doc: &mut Doc<'_>, cert: &Certificate) {
    let not_reported = "not reported";
    let opt = |v: &Option<String>| {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    };
    let duration = cert
        .started_at
        .as_deref()
        .and_then(burnin::format::parse_utc)
        .zip(cert.finished_at.as_deref().and_then(burnin::format::parse_utc))
        .map(|(s, e)| burnin::job::duration_text(e - s));
    let kind = match cert.kind.trim() {
        "" | "?" => "unknown".to_owned(),
        k => k.to_owned(),
    };
    // (label, value, small line under it, emphasised)
    let mut fields: Vec<(&str, Option<String>, Option<String>, bool)> = vec![
        ("Model", Some(cert.model.trim().to_owned()).filter(|m| !m.is_empty()), None, true),
        ("Serial number", Some(cert.serial.trim().to_owned()), None, true),
        ("WWN", opt(&cert.wwn), None, false),
        (
            "Capacity",
            (cert.capacity_bytes > 0).then(|| burnin::format::capacity(cert.capacity_bytes)),
            (cert.capacity_bytes > 0).then(|| format!("{} bytes", grouped(cert.capacity_bytes))),
            false,
        ),
        ("Firmware", opt(&cert.firmware), None, false),
        ("Power-on hours", cert.power_on_hours.map(|h| format!("{} h", grouped(h))), None, false),
        ("Kind", Some(kind), None, false),
    ];
    if let Some(vendor) = opt(&cert.vendor) {
        fields.insert(1, ("Vendor", Some(vendor), None, false));
    }
    fields.extend([
        ("Host", Some(cert.host_name.trim().to_owned()).filter(|h| !h.is_empty()), None, false),
        ("Location", Some(cert.location.trim().to_owned()).filter(|l| !l.is_empty()), None, false),
        ("Operator", Some(cert.operator.trim().to_owned()).filter(|o| !o.is_empty()), None, false),
        ("Created", Some(when(&cert.created_at)), None, false),
        ("Started", cert.started_at.as_deref().map(when), None, false),
        (
            "Finished",
            cert.finished_at.as_deref().map(when),
            duration.map(|d| format!("took {d}")),
            false,
        ),
    ]);

    doc.heading("Drive and run", 60.0);
    let qr_column = 118.0;
    let grid_width = doc.text_width() - qr_column - 10.0;
    let per_row = 3;
    let cell_width = grid_width / per_row as f32;
    let top = doc.y;
    let mut y = top - 2.0;
    for row in fields.chunks(per_row) {
        let laid: Vec<_> = row
            .iter()
            .map(|(label, value, note, strong)| {
                let font = if *strong { Font::Bold } else { Font::Regular };
                let (text, colour) = match value {
                    Some(v) => (clean(v), DARK),
                    None => (clean(not_reported), MUTED),
                };
                // One token (a model, a WWN) shrinks a little rather than break.
                let size = if text.trim().contains(' ') {
                    9.0
                } else {
                    shrink_to_fit(text.trim(), font, 9.0, 7.0, cell_width - 8.0)
                };
                let lines = wrap(&text, font, size, cell_width - 8.0, 2);
                let notes = note
                    .as_deref()
                    .map(|n| wrap(&clean(n), Font::Regular, 6.5, cell_width - 8.0, 1))
                    .unwrap_or_default();
                (clean(&label.to_uppercase()), (font, size), colour, lines, notes)
            })
            .collect();
        let height = laid
            .iter()
            .map(|(_, _, _, lines, notes)| {
                9.0 + lines.len() as f32 * 11.0 + notes.len() as f32 * 8.0 + 5.0
            })
            .fold(0.0, f32::max);
        for (i, (label, (font, size), colour, lines, notes)) in laid.iter().enumerate() {
            let x = doc.left() + i as f32 * cell_width;
            let mut baseline = y - 6.5;
            doc.text(
                x,
                baseline,
                Font::Bold,
                6.0,
                MUTED,
                &fit(label, Font::Bold, 6.0, cell_width - 8.0),
            );
            baseline -= 11.0;
            for line in lines {
                doc.text(x, baseline, *font, *size, *colour, line);
                baseline -= 11.0;
            }
            baseline += 2.5;
            for note in notes {
                doc.text(x, baseline, Font::Regular, 6.5, MUTED, note);
                baseline -= 8.0;
            }
        }
        y -= height;
    }

    // The QR code, to the right of the grid: scanning it opens the job's page.
    let qr_left = doc.right() - qr_column;
    let mut qr_bottom = top;
    match QrMatrix::new(&cert.job_url) {
        Ok(matrix) => {
            let modules = (matrix.width + 2 * QR_QUIET) as f32;
            let module = (qr_column / modules).min(3.2);
            let side = module * modules;
            let x0 = qr_left + (qr_column - side) / 2.0 + QR_QUIET as f32 * module;
            let y0 = top - QR_QUIET as f32 * module;
            doc.page.set_fill_rgb(0.0, 0.0, 0.0);
            for (row, col, len) in matrix.runs() {
                doc.page.rect(
                    x0 + col as f32 * module,
                    y0 - (row + 1) as f32 * module,
                    len as f32 * module,
                    module,
                );
            }
            doc.page.fill_nonzero();
            qr_bottom = top - side;
        }
        Err(error) => {
            let lines =
                wrap(&clean(&format!("No QR code: {error}")), Font::Regular, 6.5, qr_column, 6);
            for line in lines {
                qr_bottom -= 8.0;
                doc.text(qr_left, qr_bottom, Font::Regular, 6.5, RED, &line);
            }
        }
    }
    let caption = clean("JOB PAGE");
    qr_bottom -= 4.0;
    doc.text(qr_left + 4.0, qr_bottom, Font::Bold, 6.0, MUTED, &caption);
    let url = cert.job_url.trim();
    let size = shrink_to_fit(url, Font::Regular, 6.5, 5.0, qr_column - 8.0);
    for line in wrap(url, Font::Regular, size, qr_column - 8.0, 4) {
        qr_bottom -= 8.0;
        doc.text(qr_left + 4.0, qr_bottom, Font::Regular, size, DARK, &line);
    }
    doc.y = y.min(qr_bottom - 4.0);
}

/// The verdict's reasons, at most `most` of them (the rest counted in a last row).
fn reasons(doc: &mut Doc<'_>, cert: &Certificate, most: usize) {
    if cert.reasons.is_empty() {
        doc.heading("Verdict reasons", 14.0);
        doc.paragraph("No reasons recorded.", Font::Regular, 8.0, MUTED);
        return;
    }
    let shown = if cert.reasons.len() > most { most.saturating_sub(1).max(1) } else { most };
    let mut rows: Vec<Vec<Cell>> = cert
        .reasons
        .iter()
        .take(shown)
        .map(|(level, text)| {
            let colour = match level.trim().to_ascii_uppercase().as_str() {
                "FAIL" => RED,
                "WARN" => AMBER,
                _ => MUTED,
            };
            vec![Cell::new(level).bold().colour(colour), Cell::new(text)]
        })
        .collect();
    let left = cert.reasons.len().saturating_sub(shown);
    if left > 0 {
        let more = format!("and {left} more in the job's own certificate");
        rows.push(vec![Cell::new("…").colour(MUTED), Cell::new(&more).colour(MUTED)]);
    }
    doc.table(
        "Verdict reasons",
        &[col("Level", 44.0, Align::Left), col("Reason", 471.0, Align::Left)],
        rows,
    );
}

fn stages(doc: &mut Doc<'_>, cert: &Certificate) {
    if cert.stages.is_empty() {
        doc.heading("Stages", 14.0);
        doc.paragraph("No stages recorded.", Font::Regular, 8.0, MUTED);
        return;
    }
    let columns = [
        col("#", 14.0, Align::Right),
        col("Stage", 128.0, Align::Left),
        col("Result", 48.0, Align::Left),
        col("Started (UTC)", 64.0, Align::Left),
        col("Finished (UTC)", 64.0, Align::Left),
        col("Duration", 46.0, Align::Right),
        col("MB/s", 34.0, Align::Right),
        col("Bad blocks", 42.0, Align::Right),
        col("Errors r/w/c", 50.0, Align::Right),
    ];
    let rows = cert
        .stages
        .iter()
        .map(|stage| {
            let colour = match stage.state.as_str() {
                "passed" => GREEN,
                "failed" | "interrupted" => RED,
                "cancelled" => AMBER,
                _ => MUTED,
            };
            let (r, w, c) = stage.errors;
            let errors = Cell::new(&format!("{r}/{w}/{c}"));
            let errors = if r + w + c > 0 { errors.bold().colour(RED) } else { errors };
            let bad = Cell::new(&grouped(stage.bad_blocks));
            let bad = if stage.bad_blocks > 0 { bad.bold().colour(RED) } else { bad };
            vec![
                Cell::new(&stage.position.to_string()).colour(MUTED),
                Cell::new(&stage.label).note(&stage.detail),
                Cell::new(&stage.state).bold().colour(colour),
                Cell::new(
                    &stage.started_at.as_deref().map(when_short).unwrap_or_else(|| "–".into()),
                ),
                Cell::new(
                    &stage.finished_at.as_deref().map(when_short).unwrap_or_else(|| "–".into()),
                ),
                Cell::new(&or_dash(stage.duration.as_deref())),
                Cell::new(&stage.throughput_mb_s.map_or_else(|| "–".into(), mb_s)),
                bad,
                errors,
            ]
        })
        .collect();
    doc.table("Stages", &columns, rows);
}

fn phases(doc: &mut Doc<'_>, cert: &Certificate) {
    if cert.profile.phases.is_empty() {
        return;
    }
    let columns = [
        col("Phase", 34.0, Align::Right),
        col("Pattern", 140.0, Align::Left),
        col("From (elapsed)", 70.0, Align::Right),
        col("To (elapsed)", 70.0, Align::Right),
        col("Duration", 64.0, Align::Right),
        col("Output covers", 70.0, Align::Right),
        col("MB/s", 60.0, Align::Right),
    ];
    let rows = cert
        .profile
        .phases
        .iter()
        .map(|p| {
            vec![
                Cell::new(&p.phase.to_string()),
                Cell::new(&p.label),
                Cell::new(&clock(p.first_secs)),
                Cell::new(&clock(p.last_secs)),
                Cell::new(&burnin::job::duration_text(
                    p.last_secs.saturating_sub(p.first_secs) as f64
                )),
                Cell::new(&format!("{:.0} %", p.covered_percent.clamp(0.0, 100.0))),
                Cell::new(&p.mb_s.map_or_else(|| "–".into(), mb_s)),
            ]
        })
        .collect();
    doc.table("Surface test phases", &columns, rows);
}

fn phase_label(cert: &Certificate, phase: u32) -> String {
    cert.profile
        .phases
        .iter()
        .find(|p| p.phase == phase)
        .map_or_else(|| format!("phase {phase}"), |p| format!("phase {phase}: {}", p.label))
}

fn chart(doc: &mut Doc<'_>, cert: &Certificate) {
    let points: Vec<CurvePoint> = cert
        .profile
        .curve
        .iter()
        .copied()
        .filter(|p| p.percent.is_finite() && p.mb_s.is_finite() && p.mb_s >= 0.0)
        .collect();
    if points.is_empty() {
        doc.heading("Throughput across the disk", 14.0);
        doc.paragraph("No throughput samples kept.", Font::Regular, 8.0, MUTED);
        return;
    }
    let height = 175.0;
    doc.heading("Throughput across the disk", height);
    let top = doc.y - 4.0;

    // The phases in the order they ran, each with its colour.
    let mut order: Vec<u32> = Vec::new();
    for p in &points {
        if !order.contains(&p.phase) {
            order.push(p.phase);
        }
    }
    // Legend along the top, wrapping onto a second row if the phases do not fit on one.
    let mut x = doc.left() + 30.0;
    let mut legend_y = top - 7.0;
    for (i, &phase) in order.iter().enumerate() {
        let colour = SERIES[i % SERIES.len()];
        let label = fit(&clean(&phase_label(cert, phase)), Font::Regular, 7.0, 160.0);
        let w = 16.0 + Font::Regular.width(&label, 7.0) + 14.0;
        if x + w > doc.right() && x > doc.left() + 30.0 {
            x = doc.left() + 30.0;
            legend_y -= 10.0;
        }
        doc.line((x, legend_y + 2.5), (x + 12.0, legend_y + 2.5), 1.6, colour);
        doc.text(x + 16.0, legend_y, Font::Regular, 7.0, DARK, &label);
        x += w;
    }

    let plot_left = doc.left() + 30.0;
    let plot_right = doc.right() - 6.0;
    let plot_top = legend_y - 8.0;
    let plot_bottom = top - height + 24.0;
    let plot_w = plot_right - plot_left;
    let plot_h = (plot_top - plot_bottom).max(20.0);

    let max = points.iter().map(|p| p.mb_s).fold(0.0, f64::max).max(1.0);
    let step = nice_step(max * 1.05);
    let y_max = (max * 1.05 / step).ceil() * step;
    let to_x = |percent: f64| plot_left + (percent.clamp(0.0, 100.0) / 100.0) as f32 * plot_w;
    let to_y = |value: f64| plot_bottom + (value / y_max).clamp(0.0, 1.0) as f32 * plot_h;

    // Grid and labels.
    let mut tick = 0.0;
    while tick <= y_max + step / 2.0 {
        let y = to_y(tick);
        doc.line((plot_left, y), (plot_right, y), 0.35, RULE);
        let label = clean(&mb_s_tick(tick, step));
        doc.text_right(plot_left - 4.0, y - 2.3, Font::Regular, 6.5, MUTED, &label);
        tick += step;
    }
    for percent in (0..=100).step_by(10) {
        let x = to_x(f64::from(percent));
        doc.line((x, plot_bottom), (x, plot_bottom + plot_h), 0.35, RULE);
        let label = clean(&percent.to_string());
        let w = Font::Regular.width(&label, 6.5);
        doc.text(x - w / 2.0, plot_bottom - 9.0, Font::Regular, 6.5, MUTED, &label);
    }
    doc.line((plot_left, plot_bottom), (plot_right, plot_bottom), 0.8, DARK);
    doc.line((plot_left, plot_bottom), (plot_left, plot_bottom + plot_h), 0.8, DARK);
    doc.text_right(plot_left - 4.0, legend_y, Font::Bold, 6.5, MUTED, "MB/s");
    let axis = clean("Position on the disk (% of capacity)");
    let w = Font::Regular.width(&axis, 7.0);
    doc.text(plot_left + (plot_w - w) / 2.0, plot_bottom - 19.0, Font::Regular, 7.0, MUTED, &axis);

    // The curves, clipped to the plot so a stray point cannot draw over the labels.
    doc.page.save_state();
    doc.page.rect(plot_left, plot_bottom - 1.0, plot_w, plot_h + 2.0);
    doc.page.clip_nonzero();
    doc.page.end_path();
    doc.page.set_line_join(pdf_writer::types::LineJoinStyle::RoundJoin);
    doc.page.set_line_cap(pdf_writer::types::LineCapStyle::RoundCap);
    for (i, &phase) in order.iter().enumerate() {
        let colour = SERIES[i % SERIES.len()];
        let series: Vec<&CurvePoint> = points.iter().filter(|p| p.phase == phase).collect();
        doc.page.set_stroke_rgb(colour.0, colour.1, colour.2);
        doc.page.set_fill_rgb(colour.0, colour.1, colour.2);
        doc.page.set_line_width(1.1);
        let mut previous: Option<f64> = None;
        for p in &series {
            let (x, y) = (to_x(p.percent), to_y(p.mb_s));
            // A step back across the disk means the kept output skipped: start a new line
            // rather than draw one back across the chart.
            if previous.is_none_or(|before| p.percent < before) {
                doc.page.move_to(x, y);
            } else {
                doc.page.line_to(x, y);
            }
            previous = Some(p.percent);
        }
        doc.page.stroke();
        // A lone point draws no line; a dot keeps it visible.
        if let [p] = series.as_slice() {
            doc.page.rect(to_x(p.percent) - 1.5, to_y(p.mb_s) - 1.5, 3.0, 3.0);
            doc.page.fill_nonzero();
        }
    }
    doc.page.restore_state();
    doc.y = top - height;
}

fn mb_s_tick(value: f64, step: f64) -> String {
    if step >= 1.0 { format!("{value:.0}") } else { format!("{value:.1}") }
}

fn counters(doc: &mut Doc<'_>, cert: &Certificate, which: Counters) {
    if which == Counters::Left {
        return;
    }
    if cert.counters.is_empty() {
        doc.heading("SMART counters before and after", 14.0);
        doc.paragraph("No SMART counters compared.", Font::Regular, 8.0, MUTED);
        return;
    }
    let columns = [
        col("Counter", 250.0, Align::Left),
        col("Before", 80.0, Align::Right),
        col("After", 80.0, Align::Right),
        col("Change", 105.0, Align::Right),
    ];
    let mut rows: Vec<Vec<Cell>> = cert
        .counters
        .iter()
        .filter(|c| which == Counters::All || c.changed)
        .map(|c| {
            let value = |v: Option<u64>| v.map_or_else(|| "–".to_owned(), grouped);
            let change = match (c.before, c.after) {
                (Some(b), Some(a)) if a >= b => format!("+{}", grouped(a - b)),
                (Some(b), Some(a)) => format!("-{}", grouped(b - a)),
                _ if c.changed => "changed".to_owned(),
                _ => "–".to_owned(),
            };
            let change = if c.changed && c.before.is_some() && c.after.is_some() {
                format!("{change} changed")
            } else if c.changed {
                change
            } else {
                "unchanged".to_owned()
            };
            let cells = vec![
                Cell::new(&c.name),
                Cell::new(&value(c.before)),
                Cell::new(&value(c.after)),
                Cell::new(&change),
            ];
            if c.changed {
                cells.into_iter().map(|cell| cell.bold().colour(RED)).collect()
            } else {
                cells
            }
        })
        .collect();
    let unchanged = cert.counters.len() - rows.len();
    if unchanged > 0 {
        let text = match (rows.is_empty(), unchanged) {
            (true, 1) => "The one counter".to_owned(),
            (true, n) => format!("All {n} counters"),
            (false, 1) => "The one other".to_owned(),
            (false, n) => format!("The {n} others"),
        };
        rows.push(vec![
            Cell::new(&text).colour(MUTED),
            Cell::new(""),
            Cell::new(""),
            Cell::new("unchanged").colour(MUTED),
        ]);
    }
    doc.table("SMART counters before and after", &columns, rows);
}

/// How many bad blocks the certificate lists: a readable page, not the whole list (the
/// evidence bundle has that).
const DEFECTS_LISTED: usize = 60;

fn defects(doc: &mut Doc<'_>, cert: &Certificate) {
    let total = cert.bad_blocks.max(cert.defects.len() as u64);
    doc.heading("Defects", 30.0);
    if total == 0 {
        doc.paragraph("No bad blocks found.", Font::Regular, 8.5, DARK);
        return;
    }
    let summary = format!(
        "{} bad block{} found by the surface test. Byte offset = block number × block size.",
        grouped(total),
        if total == 1 { "" } else { "s" }
    );
    doc.paragraph(&summary, Font::Bold, 8.5, RED);
    let listed: Vec<&Defect> = cert.defects.iter().take(DEFECTS_LISTED).collect();
    if !listed.is_empty() {
        let size = 7.0;
        let leading = 8.6;
        // Columns as wide as the longest numbers, and as many as fit across the page.
        let block_w = listed.iter().map(|d| d.block.to_string().len()).max().unwrap_or(5).max(5);
        let offset_w = listed.iter().map(|d| grouped(d.byte_offset).len()).max().unwrap_or(11);
        let offset_w = offset_w.max(11);
        let chars = block_w + 2 + offset_w;
        let column_width = Font::Mono.width(&"0".repeat(chars), size) + 14.0;
        let columns = ((doc.text_width() / column_width).floor() as usize).clamp(1, 4);
        let column_width = doc.text_width() / columns as f32;
        let entry =
            |d: &Defect| format!("{:>block_w$}  {:>offset_w$}", d.block, grouped(d.byte_offset));
        let header = clean(&format!("{:>block_w$}  {:>offset_w$}", "block", "byte offset"));
        let mut start = 0;
        while start < listed.len() {
            if doc.room(leading * 2.0 + 4.0) {
                doc.heading("Defects (continued)", leading * 2.0);
            }
            let fit_rows = (((doc.y - doc.bottom()) / leading).floor() as usize).saturating_sub(1);
            let here = &listed[start..listed.len().min(start + fit_rows.max(1) * columns)];
            let rows = here.len().div_ceil(columns);
            for c in 0..columns.min(here.len()) {
                let x = doc.left() + c as f32 * column_width;
                doc.text(x, doc.y - 7.0, Font::Mono, 6.5, MUTED, &header);
            }
            doc.y -= leading;
            for r in 0..rows {
                for c in 0..columns {
                    // Down the columns, then across, like a printed listing.
                    if let Some(d) = here.get(c * rows + r) {
                        let x = doc.left() + c as f32 * column_width;
                        let text = fit(&clean(&entry(d)), Font::Mono, size, column_width - 4.0);
                        doc.text(x, doc.y - 7.0, Font::Mono, size, DARK, &text);
                    }
                }
                doc.y -= leading;
            }
            start += here.len();
        }
    }
    let more = total.saturating_sub(listed.len() as u64);
    if more > 0 {
        doc.y -= 2.0;
        doc.paragraph(
            &format!("… and {} more not listed here.", grouped(more)),
            Font::Regular,
            8.0,
            MUTED,
        );
    }
}

fn temperature(doc: &mut Doc<'_>, cert: &Certificate) {
    doc.heading("Temperature", 14.0);
    doc.paragraph(&temperature_text(cert), Font::Regular, 8.5, DARK);
}

fn temperature_text(cert: &Certificate) -> String {
    let degrees = |t: f64| format!("{t:.0} °C");
    match (cert.temperature_min_c, cert.temperature_max_c) {
        (Some(lo), Some(hi)) => {
            format!("Lowest {}, highest {} during the burn-in.", degrees(lo), degrees(hi))
        }
        (None, Some(hi)) => format!("Highest {} during the burn-in.", degrees(hi)),
        (Some(lo), None) => format!("Lowest {} during the burn-in.", degrees(lo)),
        (None, None) => "No temperature readings recorded.".to_owned(),
    }
}

/// A batch page's last section: the surface test's and the temperatures' outcome in words.
fn outline(doc: &mut Doc<'_>, cert: &Certificate) {
    let total = cert.bad_blocks.max(cert.defects.len() as u64);
    let (surface, colour) = match total {
        0 => ("No bad blocks found.".to_owned(), DARK),
        1 => ("1 bad block found by the surface test.".to_owned(), RED),
        n => (format!("{} bad blocks found by the surface test.", grouped(n)), RED),
    };
    doc.heading("Surface and temperature", 30.0);
    doc.paragraph(&surface, if total == 0 { Font::Regular } else { Font::Bold }, 8.5, colour);
    doc.paragraph(&temperature_text(cert), Font::Regular, 8.5, DARK);
    doc.paragraph(
        "Timings, throughput, the bad block list and the thresholds are in this job's own \
         certificate (its page, through the QR code) and in its evidence bundle.",
        Font::Regular,
        7.5,
        MUTED,
    );
}

fn thresholds(doc: &mut Doc<'_>, cert: &Certificate) {
    if cert.thresholds.is_empty() {
        doc.heading("Thresholds judged with", 14.0);
        doc.paragraph("No thresholds recorded.", Font::Regular, 8.0, MUTED);
        return;
    }
    let rows = cert
        .thresholds
        .iter()
        .map(|(name, value)| vec![Cell::new(name), Cell::new(value)])
        .collect();
    doc.table(
        "Thresholds judged with",
        &[col("Threshold", 200.0, Align::Left), col("Value", 315.0, Align::Left)],
        rows,
    );
}

fn footer(doc: &mut Doc<'_>, cert: &Certificate, page: usize, pages: usize) {
    let (left, right) = (doc.left(), doc.right());
    let top = MARGIN + FOOTER - 8.0;
    doc.line((left, top), (right, top), 0.6, RULE);
    // Courier at 7.4 pt puts the 25-character label and the 64-digit hash in 395 pt, well
    // inside the narrowest text width (A4, 515 pt): one unbroken line that copies and greps
    // as a single token.
    let hash = clean(&format!("Evidence bundle SHA-256: {}", cert.bundle_hash.trim()));
    let width = doc.text_width();
    doc.text(left, top - 10.0, Font::Mono, 7.4, DARK, &fit(&hash, Font::Mono, 7.4, width));
    let key = clean(&format!("Signing key (Ed25519): {}", cert.public_key.trim()));
    let sealed = clean(&format!("Sealed {}", when(&cert.sealed_at)));
    let sealed_width = Font::Regular.width(&sealed, 7.0);
    doc.text(
        left,
        top - 20.0,
        Font::Mono,
        7.0,
        MUTED,
        &fit(&key, Font::Mono, 7.0, width - sealed_width - 12.0),
    );
    doc.text_right(right, top - 20.0, Font::Regular, 7.0, MUTED, &sealed);
    let verify = "Verify: burnin-server verify bundle.json";
    doc.text(left, top - 30.0, Font::Regular, 7.0, MUTED, verify);
    let number = clean(&format!("Page {page} of {pages}"));
    doc.text_right(right, top - 30.0, Font::Bold, 7.0, MUTED, &number);
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use burnin::record::{CounterLine, PhaseTiming, StageLine, SurfaceProfile};

    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const URL: &str = "https://burnin.example.net/jobs/42";

    fn stage(position: u32, label: &str, state: &str) -> StageLine {
        StageLine {
            position,
            label: label.to_owned(),
            state: state.to_owned(),
            started_at: Some(format!("2026-03-0{position}T08:00:00Z")),
            finished_at: Some(format!("2026-03-0{position}T09:30:00Z")),
            duration: Some("1 h 30 min".to_owned()),
            throughput_mb_s: None,
            bad_blocks: 0,
            errors: (0, 0, 0),
            detail: String::new(),
        }
    }

    fn counter(name: &str, before: u64, after: u64) -> CounterLine {
        CounterLine {
            name: name.to_owned(),
            before: Some(before),
            after: Some(after),
            changed: before != after,
        }
    }

    /// A failed burn-in as the record builds it: 300 bad blocks of which the record keeps the
    /// first `DEFECTS_SHOWN`, two counters that rose, two surface phases with their curve.
    fn failed() -> Certificate {
        let blocks: Vec<u64> = (0..300u64).map(|i| 1_953_000_000 + i * 7919).collect();
        let mut surface = stage(3, "Surface test (destroys all data)", "failed");
        surface.throughput_mb_s = Some(182.4);
        surface.bad_blocks = 300;
        surface.errors = (0, 0, 300);
        surface.detail =
            "badblocks -wsv -b 4096 found 300 bad blocks (0 read, 0 write, 300 corruption)".into();
        let mut long = stage(2, "SMART long test", "passed");
        long.detail = "Completed without error (LBA of first error: none)".into();
        let mut curve = Vec::new();
        for step in 0..50 {
            let percent = f64::from(step) * 2.0 + 1.0;
            // Outer tracks are faster: the rate falls across the disk.
            curve.push(CurvePoint { phase: 1, percent, mb_s: 265.0 - percent * 1.3 });
            curve.push(CurvePoint { phase: 2, percent, mb_s: 272.0 - percent * 1.35 });
        }
        Certificate {
            job_id: 42,
            job_url: URL.to_owned(),
            bundle_hash: HASH.to_owned(),
            public_key: "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=".to_owned(),
            serial: "ZL2ABC123".to_owned(),
            model: "ST18000NM000J-2TV103".to_owned(),
            vendor: Some("Seagate".to_owned()),
            wwn: Some("0x5000c500c8a1b2c3".to_owned()),
            capacity_bytes: 18_000_207_937_536,
            firmware: Some("SN02".to_owned()),
            power_on_hours: Some(12_345),
            kind: "HDD".to_owned(),
            host_name: "nas-01.lab".to_owned(),
            location: "Rack 2 · Bay 7 (Gebäude Süd, стойка 3)".to_owned(),
            operator: "René Müller-Łukasiewicz".to_owned(),
            created_at: "2026-03-01T07:55:00Z".to_owned(),
            started_at: Some("2026-03-01T08:00:00Z".to_owned()),
            finished_at: Some("2026-03-04T11:12:00Z".to_owned()),
            state: "failed".to_owned(),
            outcome: "FAIL".to_owned(),
            reasons: vec![
                ("FAIL".into(), "The surface test found 300 bad blocks (tolerated: 0).".into()),
                (
                    "FAIL".into(),
                    "Reallocated sectors (5) rose 0 → 8 and current pending sectors (197) rose \
                     0 → 16 during the burn-in; the drive is remapping a failing surface."
                        .into(),
                ),
                (
                    "WARN".into(),
                    "Peak temperature 52 °C – near the warning limit (café (test) \\ \u{65e5})"
                        .into(),
                ),
                ("note".into(), "Power-on hours read from the after snapshot.".into()),
            ],
            thresholds: vec![
                ("Bad blocks tolerated".into(), "0".into()),
                (
                    "Temperature limits (HDD)".into(),
                    "warn 50 °C, critical 55 °C, fail 60 °C".into(),
                ),
            ],
            stages: vec![
                stage(1, "Pre-check", "passed"),
                long,
                surface,
                stage(4, "Final check", "passed"),
            ],
            counters: vec![
                counter("Reallocated sectors (5)", 0, 8),
                counter("Reported uncorrectable errors (187)", 0, 0),
                counter("Command timeouts (188)", 0, 0),
                counter("Current pending sectors (197)", 0, 16),
                counter("Offline uncorrectable sectors (198)", 0, 0),
                counter("UDMA CRC errors (199)", 0, 0),
            ],
            bad_blocks: 300,
            defects: blocks
                .iter()
                .take(burnin::record::DEFECTS_SHOWN)
                .map(|&block| Defect { block, byte_offset: block * 4096 })
                .collect(),
            temperature_min_c: Some(31.0),
            temperature_max_c: Some(52.0),
            profile: SurfaceProfile {
                phases: vec![
                    PhaseTiming {
                        phase: 1,
                        label: "write 0xaa".into(),
                        first_secs: 0,
                        last_secs: 91_000,
                        covered_percent: 100.0,
                        mb_s: Some(197.8),
                    },
                    PhaseTiming {
                        phase: 2,
                        label: "read and compare".into(),
                        first_secs: 91_000,
                        last_secs: 178_000,
                        covered_percent: 100.0,
                        mb_s: Some(206.9),
                    },
                ],
                curve,
            },
            sealed_at: "2026-03-04T11:12:05Z".to_owned(),
        }
    }

    fn passed() -> Certificate {
        let mut cert = failed();
        cert.outcome = "PASS".into();
        cert.state = "passed".into();
        cert.reasons = vec![("note".into(), "All stages passed.".into())];
        cert.bad_blocks = 0;
        cert.defects.clear();
        cert.counters = vec![counter("Reallocated sectors (5)", 0, 0)];
        cert.profile = SurfaceProfile::default();
        for stage in &mut cert.stages {
            stage.state = "passed".into();
            stage.bad_blocks = 0;
            stage.errors = (0, 0, 0);
        }
        cert
    }

    /// Runs a poppler tool; a missing tool fails the test with the fix rather than skipping,
    /// so a machine without them cannot pass by accident.
    fn poppler(tool: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
        let output = Command::new(tool).args(args).output().unwrap_or_else(|error| {
            panic!(
                "cannot run {tool} ({error}): it comes from Debian's poppler-utils; \
                 run scripts/setup.sh --with-test-tools"
            )
        });
        assert!(
            output.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn write_pdf(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join("certificate.pdf");
        std::fs::write(&path, bytes).expect("write the PDF");
        path
    }

    fn text_of(pdf_bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = write_pdf(dir.path(), pdf_bytes);
        let out = poppler("pdftotext", &["-layout".as_ref(), path.as_os_str(), "-".as_ref()]);
        String::from_utf8(out.stdout).expect("pdftotext writes UTF-8")
    }

    #[test]
    fn the_failed_certificate_reads_back_with_serial_verdict_and_the_whole_hash() {
        let text = text_of(&pdf(&failed(), Paper::A4).expect("a PDF"));
        assert!(text.contains("ZL2ABC123"), "{text}");
        assert!(text.contains("FAIL"), "{text}");
        assert!(text.contains("Burn-in certificate"), "{text}");
        assert!(text.contains("Job #42"), "{text}");
        let hash_lines: Vec<&str> = text.lines().filter(|l| l.contains(HASH)).collect();
        assert!(!hash_lines.is_empty(), "the hash is not one unbroken token:\n{text}");
        assert!(
            hash_lines.iter().all(|l| l.split_whitespace().any(|token| token == HASH)),
            "{hash_lines:?}"
        );
        // The footer repeats on every page.
        let pages = text.lines().filter(|l| l.contains("Page ") && l.contains(" of ")).count();
        assert!(text.contains("Page 1 of"), "{text}");
        assert_eq!(hash_lines.len(), pages, "{text}");
        // Text in any script the embedded faces cover comes back as written; a character they
        // lack (here a CJK one) prints as `?`.
        let written = ["52 °C", "René Müller-Łukasiewicz", "café (test) \\ ?", "0 → 8", "стойка 3"];
        for expected in written {
            assert!(text.contains(expected), "missing {expected:?}:\n{text}");
        }
        assert!(text.contains("and 240 more"), "{text}");
        assert!(text.contains("Verify: burnin-server verify bundle.json"), "{text}");
        assert!(text.contains("Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="), "{text}");
        assert!(text.contains(URL), "{text}");
    }

    #[test]
    fn a_passed_certificate_says_pass_and_that_no_samples_were_kept() {
        let text = text_of(&pdf(&passed(), Paper::Letter).expect("a PDF"));
        assert!(text.contains("PASS"), "{text}");
        assert!(!text.contains("FAIL"), "{text}");
        assert!(text.contains("No throughput samples kept"), "{text}");
        assert!(text.contains("No bad blocks found"), "{text}");
    }

    #[test]
    fn both_papers_render_at_their_size_with_title_and_producer() {
        for (paper, size) in [(Paper::A4, "595 x 842 pts"), (Paper::Letter, "612 x 792 pts")] {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let bytes = pdf(&failed(), paper).expect("a PDF");
            // Subsets, not the whole faces (1.8 MB of them).
            assert!(bytes.len() < 120_000, "{} bytes", bytes.len());
            let path = write_pdf(dir.path(), &bytes);
            let info = poppler("pdfinfo", &[path.as_os_str()]);
            let info = String::from_utf8_lossy(&info.stdout);
            assert!(info.contains(size), "{paper:?}: {info}");
            assert!(info.contains("Burn-in certificate ZL2ABC123"), "{info}");
            assert!(info.contains("burn-in dashboard"), "{info}");
            // Every font is embedded as a subset: the page prints the same everywhere.
            let fonts = poppler("pdffonts", &[path.as_os_str()]);
            let fonts = String::from_utf8_lossy(&fonts.stdout);
            let rows: Vec<&str> = fonts.lines().skip(2).collect();
            assert_eq!(rows.len(), 3, "{fonts}");
            for row in &rows {
                let cols: Vec<&str> = row.split_whitespace().collect();
                // name, type (2 words), encoding, emb, sub, uni, object, id
                assert!(cols[0].len() > 7 && cols[0].as_bytes()[6] == b'+', "{row}");
                assert_eq!(&cols[cols.len() - 5..cols.len() - 2], ["yes", "yes", "yes"], "{row}");
            }
            let prefix = dir.path().join("page");
            let args = ["-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile"];
            let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
            all.extend([path.as_os_str(), prefix.as_os_str()]);
            let out = poppler("pdftoppm", &all);
            assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
            let png = std::fs::metadata(dir.path().join("page.png")).expect("a PNG").len();
            assert!(png > 15_000, "{paper:?}: page 1 is only {png} bytes: nearly blank?");
        }
    }

    #[test]
    fn paper_names_parse() {
        assert_eq!(Paper::parse("a4"), Some(Paper::A4));
        assert_eq!(Paper::parse(" Letter "), Some(Paper::Letter));
        assert_eq!(Paper::parse("legal"), None);
    }

    #[test]
    fn the_qr_code_is_an_svg_of_the_matrix_for_its_version() {
        let svg = qr_svg(URL).expect("a QR code");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<rect") && svg.contains("<path"), "{svg}");
        assert!(svg.contains("role=\"img\"") && svg.contains("aria-label=\"QR code for https://"));
        // 34 bytes at level M need version 3 (version 2 holds 26): 29 modules a side.
        let matrix = QrMatrix::new(URL).expect("a matrix");
        assert_eq!(matrix.width, 29);
        assert_eq!(matrix.dark.len(), 29 * 29);
        assert!(svg.contains("viewBox=\"0 0 37 37\""), "{svg}");
        let long = format!("{URL}?{}", "x".repeat(300));
        let version = match QrCode::with_error_correction_level(&long, EcLevel::M)
            .expect("a QR code")
            .version()
        {
            qrcode::Version::Normal(v) => usize::try_from(v).expect("a positive version"),
            qrcode::Version::Micro(_) => unreachable!("never chosen automatically"),
        };
        assert_eq!(QrMatrix::new(&long).expect("a matrix").width, 17 + 4 * version);
        // The finder pattern's corner is dark and the quiet zone is not drawn as modules.
        assert!(matrix.dark[0] && svg.contains("M4 4h7"), "{svg}");
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_an_error_not_a_panic_and_the_pdf_still_comes() {
        let long = "x".repeat(QR_MAX_BYTES + 1);
        assert_eq!(qr_svg(&long), Err(CertificateError::QrTooLong { len: long.len() }));
        let mut cert = failed();
        cert.job_url = long;
        let text = text_of(&pdf(&cert, Paper::A4).expect("a PDF"));
        assert!(text.contains("No QR code"), "{text}");
    }

    #[test]
    fn text_is_shown_in_the_faces_glyphs_or_as_a_question_mark() {
        assert_eq!(clean("a\tb\nc\u{7}"), "a b c ");
        for font in Font::ALL {
            let face = fonts::typeface(font);
            let question = face.glyph('?');
            assert_ne!(question, 0, "{font:?} has a ?");
            for c in ['é', 'Ł', 'ж', 'Ω', '°', '→', '≥', '…', '€', '–'] {
                assert_ne!(face.glyph(c), question, "{font:?} lacks {c}");
                assert!(font.advance(c) > 0.0, "{font:?} {c}");
            }
            assert_eq!(face.glyph('日'), question, "{font:?}");
        }
        // Mono is monospaced, the others are not.
        assert_eq!(Font::Mono.width("iiii", 10.0), Font::Mono.width("MMMM", 10.0));
        assert!(Font::Regular.width("iiii", 10.0) < Font::Regular.width("MMMM", 10.0));
        // Each face's glyphs are numbered in the order first used, after .notdef, and the
        // same glyph keeps its number across a document.
        let mut used = fonts::Used::default();
        assert_eq!(used.encode(Font::Bold, "ab"), vec![0, 1, 0, 2]);
        assert_eq!(used.encode(Font::Bold, "ba日?"), vec![0, 2, 0, 1, 0, 3, 0, 3]);
        assert_eq!(used.encode(Font::Regular, "b"), vec![0, 1]);
        assert_eq!(used.fonts(), vec![Font::Regular, Font::Bold]);
    }

    #[test]
    fn long_text_wraps_inside_its_width_and_is_cut_with_an_ellipsis() {
        let text = format!("see {HASH} and {URL} for the details of this run");
        let lines = wrap(&text, Font::Regular, 8.0, 100.0, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| Font::Regular.width(l, 8.0) <= 100.01), "{lines:?}");
        assert_eq!(lines.last().and_then(|l| l.chars().last()), Some(ELLIPSIS));
        assert_eq!(fit("short", Font::Bold, 8.0, 100.0), "short");
        assert!(Font::Bold.width(&fit(&text, Font::Bold, 8.0, 60.0), 8.0) <= 60.01);
        // A word of wide characters splits between characters, never inside one.
        let cyrillic = "Ж".repeat(40);
        let lines = wrap(&cyrillic, Font::Bold, 8.0, 50.0, 20);
        assert!(lines.len() > 1 && lines.concat() == cyrillic, "{lines:?}");
        // A column narrower than one character still makes progress.
        assert_eq!(wrap("ЖЖ", Font::Bold, 8.0, 1.0, 5), vec!["Ж", "Ж"]);
    }

    #[test]
    fn a_long_certificate_continues_on_more_pages_each_with_its_footer() {
        let mut cert = failed();
        cert.reasons = (0..80).map(|i| ("WARN".to_owned(), format!("reason number {i}"))).collect();
        let text = text_of(&pdf(&cert, Paper::Letter).expect("a PDF"));
        let pages = text.matches(HASH).count();
        assert!(pages >= 3, "{pages} pages");
        assert!(text.contains(&format!("Page {pages} of {pages}")), "{text}");
        assert!(text.contains("Verdict reasons (continued)"), "{text}");
    }

    #[test]
    fn a_batch_gives_each_certificate_one_page_with_its_verdict_and_hash() {
        let mut long = failed();
        long.serial = "LONG0001".to_owned();
        long.reasons = (0..80).map(|i| ("WARN".to_owned(), format!("reason number {i}"))).collect();
        let mut passed = passed();
        passed.serial = "PASS0001".to_owned();
        let batch = batch_pdf(&[failed(), passed, long], Paper::A4).expect("a PDF");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = write_pdf(dir.path(), &batch);
        let info = poppler("pdfinfo", &[path.as_os_str()]);
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 3")), "{info}");
        let text = text_of(&batch);
        let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
        assert_eq!(pages.len(), 3, "{text}");
        for (page, (serial, verdict)) in
            pages.iter().zip([("ZL2ABC123", "FAIL"), ("PASS0001", "PASS"), ("LONG0001", "FAIL")])
        {
            assert!(page.contains(serial) && page.contains(verdict), "{page}");
            assert!(page.contains(HASH) && page.contains("Page 1 of 1"), "{page}");
            assert!(page.contains("Surface and temperature"), "{page}");
        }
        // The counters that changed are on the page; the unchanged are counted.
        assert!(pages[0].contains("Current pending sectors (197)"), "{}", pages[0]);
        assert!(pages[0].contains("The 4 others"), "{}", pages[0]);
        assert!(pages[0].contains("300 bad blocks found"), "{}", pages[0]);
        // Some reasons and a count of the rest: shown + counted = 80.
        let shown = pages[2].lines().filter(|l| l.contains("reason number ")).count();
        let counted = format!("and {} more in the job's own certificate", 80 - shown);
        assert!(shown >= 2 && pages[2].contains(&counted), "{shown}: {}", pages[2]);
    }

    /// Writes page 1 of the failed certificate to docs/certificate-example.png, and its batch
    /// page to docs/certificate-batch-page.png, for review:
    /// `cargo test -p burnin-server --lib certificate -- --ignored`.
    #[test]
    #[ignore = "writes docs/certificate-example.png"]
    fn write_the_example_page() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = write_pdf(dir.path(), &pdf(&failed(), Paper::A4).expect("a PDF"));
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).expect("docs/");
        let prefix = docs.join("certificate-example");
        let args = ["-r", "100", "-png", "-f", "1", "-l", "1", "-singlefile"];
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.extend([path.as_os_str(), prefix.as_os_str()]);
        poppler("pdftoppm", &all);
        // And a batch's page for the same job.
        let path = write_pdf(dir.path(), &batch_pdf(&[failed()], Paper::A4).expect("a PDF"));
        let prefix = docs.join("certificate-batch-page");
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.extend([path.as_os_str(), prefix.as_os_str()]);
        poppler("pdftoppm", &all);
    }
}
