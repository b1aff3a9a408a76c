//! Human-readable figures, shared by the page and the API so both print the same.

/// Decimal capacity the way drive vendors label it ("12 TB", "960 GB"), since that is what is
/// printed on the box a technician is holding.
pub fn capacity(bytes: u64) -> String {
    const UNITS: [(&str, f64); 4] = [("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)];
    let value = bytes as f64;
    for (unit, scale) in UNITS {
        if value >= scale {
            let scaled = value / scale;
            return if scaled >= 100.0 || (scaled.fract() < 0.05) {
                format!("{scaled:.0} {unit}")
            } else {
                format!("{scaled:.1} {unit}")
            };
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_reads_like_the_label_on_the_drive() {
        let cases = [
            (12_000_138_625_024, "12 TB"),
            (8_001_563_222_016, "8 TB"),
            (960_197_124_096, "960 GB"),
            (500_107_862_016, "500 GB"),
            (1_500_301_910_016, "1.5 TB"),
            (20_000_588_955_648, "20 TB"),
            (512, "512 B"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(capacity(bytes), expected, "{bytes}");
        }
    }
}
