//! The real smartctl captures each answer starts from (see captures/PROVENANCE.md), and what
//! smartctl's drive database would say about a simulated model.

use serde_json::{Value, json};

use crate::{drive::DriveSim, scenario::Protocol};

const ATA_SEAGATE: &str = include_str!("captures/ata-seagate.json");
const ATA_TOSHIBA: &str = include_str!("captures/ata-toshiba.json");
const ATA_HGST: &str = include_str!("captures/ata-hgst.json");
const ATA_WD: &str = include_str!("captures/ata-wd.json");
const ATA_SSD_SAMSUNG: &str = include_str!("captures/ata-ssd.json");
const ATA_SSD_INTEL: &str = include_str!("captures/ata-ssd-intel.json");
const SCSI: &str = include_str!("captures/scsi.json");
const NVME: &str = include_str!("captures/nvme.json");

/// Every embedded capture, by file name.
#[cfg(test)]
const ALL: [(&str, &str); 8] = [
    ("ata-seagate.json", ATA_SEAGATE),
    ("ata-toshiba.json", ATA_TOSHIBA),
    ("ata-hgst.json", ATA_HGST),
    ("ata-wd.json", ATA_WD),
    ("ata-ssd.json", ATA_SSD_SAMSUNG),
    ("ata-ssd-intel.json", ATA_SSD_INTEL),
    ("scsi.json", SCSI),
    ("nvme.json", NVME),
];

/// Who made a drive, read from its model string the way people (and smartctl's drive database)
/// recognise them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Vendor {
    Seagate,
    WesternDigital,
    Toshiba,
    Hgst,
    Samsung,
    Intel,
    Other,
}

pub(super) fn vendor(model: &str) -> Vendor {
    let upper = model.trim().to_ascii_uppercase();
    let first = upper.split_whitespace().next().unwrap_or("");
    if first == "SEAGATE" || (first.starts_with("ST") && first.len() > 3) {
        Vendor::Seagate
    } else if first == "WDC" || first.starts_with("WD") || first.starts_with("WU") {
        Vendor::WesternDigital
    } else if first == "TOSHIBA" || first.starts_with("KXG") || first.starts_with("MG0") {
        Vendor::Toshiba
    } else if first == "HGST"
        || first == "HITACHI"
        || first.starts_with("HUS")
        || first.starts_with("HUH")
    {
        Vendor::Hgst
    } else if first == "SAMSUNG" {
        Vendor::Samsung
    } else if first == "INTEL" {
        Vendor::Intel
    } else {
        Vendor::Other
    }
}

/// The capture a drive's answer is built on: by protocol, then solid state or not, then vendor.
pub(super) fn base(drive: &DriveSim) -> Value {
    let text = match (drive.spec.protocol, drive.is_ssd(), vendor(&drive.spec.model)) {
        (Protocol::Scsi, _, _) => SCSI,
        (Protocol::Nvme, _, _) => NVME,
        (Protocol::Ata, true, Vendor::Intel) => ATA_SSD_INTEL,
        (Protocol::Ata, true, _) => ATA_SSD_SAMSUNG,
        (Protocol::Ata, false, Vendor::Toshiba) => ATA_TOSHIBA,
        (Protocol::Ata, false, Vendor::Hgst) => ATA_HGST,
        (Protocol::Ata, false, Vendor::WesternDigital) => ATA_WD,
        (Protocol::Ata, false, _) => ATA_SEAGATE,
    };
    serde_json::from_str::<Value>(text).ok().filter(Value::is_object).unwrap_or_else(|| json!({}))
}

/// What smartctl's drive database (the one shipped with 7.4) knows about a model: its family
/// name and the raw-value presets that change how attributes print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Family {
    pub name: &'static str,
    /// `-v 9,msec24hour32`: power-on hours print as `"1234h+05m+06.789s"`.
    pub hours_msec: bool,
    /// `-v 188,raw16`: command timeouts print as three 16-bit words.
    pub timeouts_raw16: bool,
}

/// Model prefixes and the `drivedb.h` (RELEASE_7_4) entry whose regex matches them.
const FAMILIES: [(&str, &str, bool, bool); 16] = [
    ("ST12000NM0008", "Seagate Exos X14", false, false),
    ("ST10000NM0478", "Seagate Exos X14", false, false),
    ("ST16000NM001G", "Seagate Exos X16", false, false),
    ("ST14000NM001G", "Seagate Exos X16", false, false),
    ("ST4000VN008", "Seagate IronWolf", false, false),
    ("ST8000VN004", "Seagate IronWolf", false, false),
    ("ST6000DM003", "Seagate BarraCuda 3.5 (SMR)", true, true),
    ("ST8000DM004", "Seagate BarraCuda 3.5 (SMR)", true, true),
    ("WDC WD80EFAX", "Western Digital Red", false, false),
    ("WDC WD40EFZX", "Western Digital Red", false, false),
    ("WDC WD100EMAZ", "Western Digital Ultrastar (He10/12)", false, false),
    ("TOSHIBA MG06ACA", "Toshiba MG06ACA... Enterprise Capacity HDD", false, false),
    ("HGST HUS728T8TALE6L4", "HGST Ultrastar HC310/320", false, false),
    ("SAMSUNG MZ7", "Samsung based SSDs", false, false),
    ("Samsung SSD 870", "Samsung based SSDs", false, false),
    ("INTEL SSDSC2KB", "Intel S4510/S4610/S4500/S4600 Series SSDs", false, false),
];

pub(super) fn family(model: &str) -> Option<Family> {
    FAMILIES
        .iter()
        .find(|(prefix, ..)| model.starts_with(prefix))
        .map(|&(_, name, hours_msec, timeouts_raw16)| Family { name, hours_msec, timeouts_raw16 })
}

/// A firmware revision of the kind the model ships with (the captures' own are redacted).
pub(super) fn firmware(drive: &DriveSim) -> String {
    let model = drive.spec.model.as_str();
    let known: [(&str, &str); 12] = [
        ("ST12000NM0008", "SN02"),
        ("ST16000NM001G", "SN03"),
        ("ST20000NM007D", "SN01"),
        ("ST4000VN00", "SC60"),
        ("ST4000NM0023", "0004"),
        ("WDC WD80EFAX", "83.H0A83"),
        ("WDC WD100EMAZ", "83.H0A83"),
        ("WDC WD40EFZX", "80.00A80"),
        ("TOSHIBA MG06ACA", "0104"),
        ("Samsung SSD 870", "SVT01B6Q"),
        ("Samsung SSD 970", "2B2QEXM7"),
        ("INTEL SSDSC2KB", "XCV10132"),
    ];
    if let Some((_, firmware)) = known.iter().find(|(prefix, _)| model.starts_with(prefix)) {
        return (*firmware).to_owned();
    }
    let upper = model.to_ascii_uppercase();
    match (vendor(model), drive.spec.protocol) {
        (Vendor::Seagate, Protocol::Ata) if upper.contains("DM0") => "0001".to_owned(),
        (Vendor::Seagate, Protocol::Ata) => "SN03".to_owned(),
        (Vendor::Hgst, Protocol::Scsi) => "RS04".to_owned(),
        (Vendor::Hgst, _) => "V8GNW460".to_owned(),
        (Vendor::WesternDigital, _) => "81.00A81".to_owned(),
        (Vendor::Toshiba, _) => "0104".to_owned(),
        (_, Protocol::Scsi) => "0004".to_owned(),
        _ => "1.0".to_owned(),
    }
}

/// NVMe PCI vendor id and IEEE OUI of a controller maker.
pub(super) fn nvme_ids(vendor: Vendor) -> Option<(u64, u64)> {
    match vendor {
        Vendor::Samsung => Some((0x144d, 0x002538)),
        Vendor::Toshiba => Some((0x1179, 0x8ce38e)),
        Vendor::Intel => Some((0x8086, 0x5cd2e4)),
        Vendor::WesternDigital => Some((0x15b7, 0x001b44)),
        Vendor::Seagate => Some((0x1bb1, 0x000c50)),
        Vendor::Hgst | Vendor::Other => None,
    }
}

/// A SCSI model string split into INQUIRY's vendor (8 characters at most) and product.
pub(super) fn scsi_vendor_product(model: &str) -> (String, String) {
    let model = model.trim();
    let mut words = model.splitn(2, ' ');
    match (words.next(), words.next()) {
        (Some(vendor), Some(product)) if vendor.len() <= 8 => {
            (vendor.to_owned(), product.trim().to_owned())
        }
        _ => {
            let vendor = match vendor(model) {
                Vendor::Seagate => "SEAGATE",
                Vendor::WesternDigital => "WDC",
                Vendor::Toshiba => "TOSHIBA",
                Vendor::Hgst => "HGST",
                Vendor::Samsung => "SAMSUNG",
                Vendor::Intel => "INTEL",
                Vendor::Other => "",
            };
            (vendor.to_owned(), model.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_capture_is_a_json_object() {
        for (name, text) in ALL {
            let value: Value = serde_json::from_str(text).expect(name);
            assert!(value.is_object(), "{name}");
        }
    }

    #[test]
    fn vendors_are_read_from_model_strings() {
        assert_eq!(vendor("ST12000NM0008-2H3101"), Vendor::Seagate);
        assert_eq!(vendor("SEAGATE ST4000NM0023"), Vendor::Seagate);
        assert_eq!(vendor("WDC WD80EFAX-68KNBN0"), Vendor::WesternDigital);
        assert_eq!(vendor("TOSHIBA MG06ACA10TE"), Vendor::Toshiba);
        assert_eq!(vendor("HGST HUS728T8TAL5200"), Vendor::Hgst);
        assert_eq!(vendor("Samsung SSD 870 EVO 250GB"), Vendor::Samsung);
        assert_eq!(vendor("INTEL SSDSC2KB240G8"), Vendor::Intel);
        assert_eq!(vendor("Micron_5300"), Vendor::Other);
        assert_eq!(vendor(""), Vendor::Other);
    }

    #[test]
    fn scsi_models_split_into_vendor_and_product() {
        assert_eq!(
            scsi_vendor_product("HGST HUS728T8TAL5200"),
            ("HGST".into(), "HUS728T8TAL5200".into())
        );
        assert_eq!(scsi_vendor_product("ST4000NM0023"), ("SEAGATE".into(), "ST4000NM0023".into()));
        assert_eq!(scsi_vendor_product(""), (String::new(), String::new()));
    }
}
