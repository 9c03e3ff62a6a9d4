//! tmp
#[cfg(test)]
mod tests {
    #[test]
    fn dump_widths() {
        for f in [printpdf::BuiltinFont::Helvetica, printpdf::BuiltinFont::HelveticaBold] {
            let pf = f.get_parsed_font().expect("font");
            println!("upem {}", pf.units_per_em);
            let mut out = String::new();
            for b in 32u32..=255 {
                let c = char::from_u32(b).unwrap_or('?');
                let gid = pf.lookup_glyph_index(c as u32);
                let w = gid.and_then(|g| pf.get_glyph_width(g)).map(|w| (w as u32 * 1000 + pf.units_per_em as u32 / 2) / pf.units_per_em as u32);
                out.push_str(&format!("{b}:{c}={w:?} "));
            }
            for c in ['€','…','—','–','‘','’','“','”','•','º'] {
                let gid = pf.lookup_glyph_index(c as u32);
                let w = gid.and_then(|g| pf.get_glyph_width(g)).map(|w| (w as u32 * 1000 + pf.units_per_em as u32 / 2) / pf.units_per_em as u32);
                out.push_str(&format!("{c}={w:?} "));
            }
            println!("{out}");
        }
    }
}
