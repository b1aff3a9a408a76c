//! The certificate's typefaces, compiled into the binary: DejaVu Sans, DejaVu Sans Bold and
//! DejaVu Sans Mono (Bitstream Vera licence, `server/fonts/LICENSE`).
//!
//! A PDF embeds each face it uses as a subset holding only the glyphs it shows: a CID-keyed
//! TrueType font (Type0, Identity-H) whose CIDs are the subset's glyph ids, with a ToUnicode map
//! so that text searched, copied or extracted from the PDF reads as it was written. DejaVu
//! covers Latin, Greek and Cyrillic in full, and the arrows, relations and symbols a certificate
//! prints; a character it lacks (CJK among them) shows as `?`. Text is not shaped: no kerning,
//! ligatures or right-to-left runs, which this certificate's Latin text does not need.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;

use super::{CertificateError, Font};

/// One typeface: its file, parsed once, and what layout asks of it.
pub(super) struct Typeface {
    /// The PostScript name, which the PDF's font objects carry.
    postscript: &'static str,
    data: &'static [u8],
    /// `None` only if the compiled-in file does not parse: [`check`] then refuses every PDF.
    face: Option<ttf_parser::Face<'static>>,
    /// Font units to the PDF's thousandths of the font size.
    per_unit: f32,
    /// The glyph shown for a character the face lacks: its `?`.
    fallback: u16,
}

impl Typeface {
    fn load(postscript: &'static str, data: &'static [u8]) -> Typeface {
        let face = ttf_parser::Face::parse(data, 0).ok();
        let per_unit = face.as_ref().map_or(1.0, |f| 1000.0 / f32::from(f.units_per_em().max(1)));
        let fallback = face.as_ref().and_then(|f| f.glyph_index('?')).map_or(0, |g| g.0);
        Typeface { postscript, data, face, per_unit, fallback }
    }

    /// The glyph that shows `c`: its own, or `?` when the face has none.
    pub(super) fn glyph(&self, c: char) -> u16 {
        let found = self.face.as_ref().and_then(|f| f.glyph_index(c)).map(|g| g.0);
        found.filter(|&g| g != 0).unwrap_or(self.fallback)
    }

    fn glyph_advance(&self, glyph: u16) -> f32 {
        let units =
            self.face.as_ref().and_then(|f| f.glyph_hor_advance(ttf_parser::GlyphId(glyph)));
        // Only a face that did not parse has no advance, and no PDF is made with it.
        units.map_or(600.0, |u| f32::from(u) * self.per_unit)
    }

    /// Advance width of `c` in thousandths of the font size.
    pub(super) fn advance(&self, c: char) -> f32 {
        self.glyph_advance(self.glyph(c))
    }

    /// A value from the face's units, in thousandths of the font size.
    fn scaled(&self, units: i16) -> f32 {
        f32::from(units) * self.per_unit
    }
}

static FACES: LazyLock<[Typeface; 3]> = LazyLock::new(|| {
    [
        Typeface::load("DejaVuSans", include_bytes!("../../fonts/DejaVuSans.ttf")),
        Typeface::load("DejaVuSans-Bold", include_bytes!("../../fonts/DejaVuSans-Bold.ttf")),
        Typeface::load("DejaVuSansMono", include_bytes!("../../fonts/DejaVuSansMono.ttf")),
    ]
});

pub(super) fn typeface(font: Font) -> &'static Typeface {
    &FACES[font.index()]
}

/// Whether every compiled-in face parsed; a PDF is made only if so.
pub(super) fn check() -> Result<(), CertificateError> {
    match FACES.iter().find(|t| t.face.is_none()) {
        Some(broken) => Err(CertificateError::Font {
            font: broken.postscript,
            reason: "the compiled-in font file does not parse".to_owned(),
        }),
        None => Ok(()),
    }
}

/// The glyphs one face shows in a document, numbered as its subset will number them.
struct Subset {
    remapper: GlyphRemapper,
    /// The character each subset glyph was first used for: the ToUnicode map.
    unicode: BTreeMap<u16, char>,
}

/// What a document shows of each face, collected while its pages are laid out and embedded
/// when it is assembled.
#[derive(Default)]
pub(super) struct Used {
    subsets: [Option<Subset>; 3],
}

impl Used {
    /// `text` in `font` as the content stream shows it: two bytes per glyph, the subset's glyph
    /// id (which is the CID under Identity-H).
    pub(super) fn encode(&mut self, font: Font, text: &str) -> Vec<u8> {
        let face = typeface(font);
        let subset = self.subsets[font.index()].get_or_insert_with(|| Subset {
            remapper: GlyphRemapper::new(),
            unicode: BTreeMap::new(),
        });
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let glyph = face.glyph(c);
            let cid = subset.remapper.remap(glyph);
            let shown = if glyph == face.fallback { '?' } else { c };
            subset.unicode.entry(cid).or_insert(shown);
            out.extend_from_slice(&cid.to_be_bytes());
        }
        out
    }

    /// The faces this document shows text in, in `Font::ALL`'s order.
    pub(super) fn fonts(&self) -> Vec<Font> {
        Font::ALL.into_iter().filter(|f| self.subsets[f.index()].is_some()).collect()
    }

    /// Writes `font`'s objects (Type0 font at `ids[0]`, then its CID font, descriptor, font
    /// file and ToUnicode map at the next four ids).
    pub(super) fn write(
        &self,
        pdf: &mut Pdf,
        font: Font,
        ids: [Ref; 5],
    ) -> Result<(), CertificateError> {
        let face = typeface(font);
        let Some(subset) = &self.subsets[font.index()] else {
            return Ok(());
        };
        let Some(parsed) = face.face.as_ref() else {
            return check();
        };
        let [type0, cid_id, descriptor_id, file_id, cmap_id] = ids;
        let data = subsetter::subset(face.data, 0, &subset.remapper).map_err(|e| {
            CertificateError::Font {
                font: face.postscript,
                reason: format!("subsetting failed: {e}"),
            }
        })?;
        let packed = super::deflate(&data);
        let name = format!("{}+{}", subset_tag(&subset.remapper), face.postscript);
        let base = Name(name.as_bytes());
        let system =
            SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

        pdf.type0_font(type0)
            .base_font(base)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_id)
            .to_unicode(cmap_id);

        let widths: Vec<f32> =
            subset.remapper.remapped_gids().map(|old| face.glyph_advance(old)).collect();
        let mut cid = pdf.cid_font(cid_id);
        cid.subtype(CidFontType::Type2)
            .base_font(base)
            .system_info(system)
            .font_descriptor(descriptor_id)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid.widths().consecutive(0, widths);
        cid.finish();

        let bbox = parsed.global_bounding_box();
        let ascent = face.scaled(parsed.ascender());
        let mut flags = FontFlags::NON_SYMBOLIC;
        if font == Font::Mono {
            flags |= FontFlags::FIXED_PITCH;
        }
        let weight = parsed.weight().to_number();
        pdf.font_descriptor(descriptor_id)
            .name(base)
            .flags(flags)
            .bbox(Rect::new(
                face.scaled(bbox.x_min),
                face.scaled(bbox.y_min),
                face.scaled(bbox.x_max),
                face.scaled(bbox.y_max),
            ))
            .italic_angle(0.0)
            .ascent(ascent)
            .descent(face.scaled(parsed.descender()))
            .cap_height(parsed.capital_height().map_or(ascent, |h| face.scaled(h)))
            .weight(weight)
            // A common estimate from the weight class; readers use it only for hinting.
            .stem_v(10.0 + 0.244 * (f32::from(weight) - 50.0))
            .font_file2(file_id);

        match &packed {
            Some(packed) => {
                pdf.stream(file_id, packed)
                    .filter(Filter::FlateDecode)
                    .pair(Name(b"Length1"), data.len() as i32);
            }
            None => {
                pdf.stream(file_id, &data).pair(Name(b"Length1"), data.len() as i32);
            }
        }

        let mut cmap = UnicodeCmap::new(Name(b"Custom"), system);
        for (&cid, &c) in &subset.unicode {
            cmap.pair(cid, c);
        }
        pdf.cmap(cmap_id, &cmap.finish()).name(Name(b"Custom")).system_info(system);
        Ok(())
    }
}

/// A subset font's name starts with six capitals naming the subset; the same glyphs get the
/// same tag, so a document's bytes depend only on its content.
fn subset_tag(remapper: &GlyphRemapper) -> String {
    let mut hash = Sha256::new();
    for glyph in remapper.remapped_gids() {
        hash.update(glyph.to_be_bytes());
    }
    hash.finalize().iter().take(6).map(|b| char::from(b'A' + b % 26)).collect()
}
