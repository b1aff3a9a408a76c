#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use super::{parse::*, *};

fn free_disk() -> DiskFacts {
    DiskFacts {
        serial: "ZL2ABC01".into(),
        devname: "sdc".into(),
        size_bytes: 12_000_138_625_024,
        api: Ok(ApiFacts {
            devname: Some("sdc".into()),
            size_bytes: Some(12_000_138_625_024),
            ..ApiFacts::default()
        }),
        nas: NasFacts {
            partitions: Ok(vec![]),
            signatures: Ok(vec![]),
            mounted_devices: Ok(vec!["boot-pool/ROOT/25.10".into(), "/dev/sda3".into()]),
            swap_devices: Ok(vec!["/dev/sda4".into()]),
            md_members: Ok(vec!["sdd1".into()]),
            lvm_devices: Ok(vec!["/dev/sdcc1".into()]),
            holders: Ok(vec![]),
            importable_pool_devices: Ok(vec![PoolDevice {
                pool: "old".into(),
                device: "sdd1".into(),
            }]),
            imported_pool_devices: Ok(vec![PoolDevice {
                pool: "tank".into(),
                device: "/dev/sde1".into(),
            }]),
            open_by: Ok(vec![]),
            burnins: Ok(vec![RunningBurnin {
                dir: "/var/tmp/burnin/ab12-job-3-stage-2".into(),
                group: 4100,
                serial: Some("ZL2ABC02".into()),
                device: Some("/dev/sdd".into()),
                path: Some("/dev/disk/by-id/ata-ST12000_ZL2ABC02".into()),
            }]),
            geom: Ok(None),
        },
        lunid: "5000c500a1b2c3d4".into(),
        claims: Ok(vec![Claim {
            kind: ClaimKind::VmRawDisk,
            name: "windows".into(),
            path: "/dev/disk/by-id/ata-ST12000_ZL2ABC02".into(),
            resolved: Some("/dev/sdd".into()),
        }]),
        host: Ok(HostMatch {
            api: HostIdentity { hostname: "truenas.lan".into(), host_id: Some("ab".repeat(32)) },
            ssh: HostIdentity { hostname: "TrueNAS".into(), host_id: Some("AB".repeat(32)) },
        }),
    }
}

fn claim(kind: ClaimKind, name: &str, path: &str, resolved: Option<&str>) -> Claim {
    Claim { kind, name: name.into(), path: path.into(), resolved: resolved.map(Into::into) }
}

type Change = fn(&mut DiskFacts);

/// Each condition alone, with the refusal it must produce.
fn conditions() -> Vec<(&'static str, &'static str, Change, Refusal)> {
    fn api(facts: &mut DiskFacts) -> &mut ApiFacts {
        facts.api.as_mut().unwrap()
    }
    vec![
        (
            "imported pool (API)",
            "api.imported_pool",
            |f| api(f).imported_pool = Some("tank".into()),
            Refusal::ImportedPool { pool: "tank".into() },
        ),
        (
            "exported pool (API)",
            "api.exported_pool",
            |f| api(f).exported_pool = Some("old".into()),
            Refusal::ExportedPool { pool: "old".into() },
        ),
        ("boot disk (API)", "api.boot", |f| api(f).boot = true, Refusal::BootDisk),
        (
            "boot pool member (API)",
            "api.imported_pool",
            |f| api(f).imported_pool = Some("boot-pool".into()),
            Refusal::BootDisk,
        ),
        (
            "duplicate serial",
            "api.duplicate_serial",
            |f| api(f).duplicate_serial = vec!["sdq".into()],
            Refusal::DuplicateSerial { others: vec!["sdq".into()] },
        ),
        ("not listed any more", "api.devname", |f| api(f).devname = None, Refusal::NotListed),
        (
            "renamed",
            "api.devname",
            |f| api(f).devname = Some("sdf".into()),
            Refusal::Renamed { now: "sdf".into() },
        ),
        (
            "size changed",
            "api.size_bytes",
            |f| api(f).size_bytes = Some(4_000_787_030_016),
            Refusal::SizeChanged { recorded: 12_000_138_625_024, now: 4_000_787_030_016 },
        ),
        (
            "partitions",
            "nas.partitions",
            |f| f.nas.partitions = Ok(vec!["/dev/sdc1".into()]),
            Refusal::Partitions { partitions: vec!["/dev/sdc1".into()] },
        ),
        (
            "filesystem signature",
            "nas.signatures",
            |f| f.nas.signatures = Ok(vec!["ext4".into()]),
            Refusal::Signature { kind: "ext4".into() },
        ),
        (
            "RAID signature",
            "nas.signatures",
            |f| f.nas.signatures = Ok(vec!["linux_raid_member".into()]),
            Refusal::Signature { kind: "linux_raid_member".into() },
        ),
        (
            "LVM signature",
            "nas.signatures",
            |f| f.nas.signatures = Ok(vec!["LVM2_member".into()]),
            Refusal::Signature { kind: "LVM2_member".into() },
        ),
        (
            "ZFS label",
            "nas.signatures",
            |f| f.nas.signatures = Ok(vec!["zfs_member".into()]),
            Refusal::Signature { kind: "zfs_member".into() },
        ),
        (
            "partition table",
            "nas.signatures",
            |f| f.nas.signatures = Ok(vec!["gpt".into(), "gpt".into()]),
            Refusal::Signature { kind: "gpt".into() },
        ),
        (
            "whole disk mounted",
            "nas.mounted_devices",
            |f| f.nas.mounted_devices.as_mut().unwrap().push("/dev/sdc".into()),
            Refusal::Mounted { device: "/dev/sdc".into() },
        ),
        (
            "partition mounted",
            "nas.mounted_devices",
            |f| f.nas.mounted_devices.as_mut().unwrap().push("/dev/sdc2".into()),
            Refusal::Mounted { device: "/dev/sdc2".into() },
        ),
        (
            "swap",
            "nas.swap_devices",
            |f| f.nas.swap_devices.as_mut().unwrap().push("/dev/sdc1".into()),
            Refusal::Swap { device: "/dev/sdc1".into() },
        ),
        (
            "md member",
            "nas.md_members",
            |f| f.nas.md_members.as_mut().unwrap().push("sdc1".into()),
            Refusal::MdMember { device: "sdc1".into() },
        ),
        (
            "LVM PV",
            "nas.lvm_devices",
            |f| f.nas.lvm_devices.as_mut().unwrap().push("/dev/sdc".into()),
            Refusal::LvmMember { device: "/dev/sdc".into() },
        ),
        (
            "dm holder",
            "nas.holders",
            |f| f.nas.holders = Ok(vec!["dm-0".into()]),
            Refusal::Holder { holder: "dm-0".into() },
        ),
        (
            "importable pool (zpool import)",
            "nas.importable_pool_devices",
            |f| {
                f.nas
                    .importable_pool_devices
                    .as_mut()
                    .unwrap()
                    .push(PoolDevice { pool: "old".into(), device: "sdc1".into() })
            },
            Refusal::ExportedPool { pool: "old".into() },
        ),
        (
            "imported pool (zpool status)",
            "nas.imported_pool_devices",
            |f| {
                f.nas
                    .imported_pool_devices
                    .as_mut()
                    .unwrap()
                    .push(PoolDevice { pool: "tank".into(), device: "/dev/sdc1".into() })
            },
            Refusal::ImportedPool { pool: "tank".into() },
        ),
        (
            "boot pool (zpool status)",
            "nas.imported_pool_devices",
            |f| {
                f.nas
                    .imported_pool_devices
                    .as_mut()
                    .unwrap()
                    .push(PoolDevice { pool: "boot-pool".into(), device: "/dev/sdc3".into() })
            },
            Refusal::BootDisk,
        ),
        (
            "open in a process",
            "nas.open_by",
            |f| f.nas.open_by = Ok(vec![OpenBy { pid: 812, command: "dd".into() }]),
            Refusal::OpenBy { pid: 812, command: "dd".into() },
        ),
        (
            "GEOM consumer",
            "nas.geom",
            |f| {
                f.nas.geom = Ok(Some(GeomDisk {
                    ident: Some("ZL2ABC01".into()),
                    mediasize: Some(12_000_138_625_024),
                    mode: "r1w1e1".into(),
                }))
            },
            Refusal::GeomOpen { mode: "r1w1e1".into() },
        ),
        (
            "another burn-in on the same serial",
            "nas.burnins",
            |f| {
                f.nas.burnins.as_mut().unwrap().push(RunningBurnin {
                    dir: "/var/tmp/burnin/other-job-9-stage-4".into(),
                    group: 777,
                    serial: Some("ZL2ABC01".into()),
                    device: Some("/dev/sdx".into()),
                    path: None,
                })
            },
            Refusal::OtherBurnin { dir: "/var/tmp/burnin/other-job-9-stage-4".into() },
        ),
        (
            "another burn-in on the same device",
            "nas.burnins",
            |f| {
                f.nas.burnins.as_mut().unwrap().push(RunningBurnin {
                    dir: "/var/tmp/burnin/other-job-9-stage-4".into(),
                    group: 777,
                    serial: Some("SOMEONE-ELSE".into()),
                    device: Some("/dev/sdc".into()),
                    path: None,
                })
            },
            Refusal::OtherBurnin { dir: "/var/tmp/burnin/other-job-9-stage-4".into() },
        ),
        (
            "a burn-in that does not say its disk",
            "nas.burnins",
            |f| {
                f.nas.burnins.as_mut().unwrap().push(RunningBurnin {
                    dir: "/var/tmp/burnin/job-2-stage-3".into(),
                    group: 778,
                    serial: None,
                    device: None,
                    path: None,
                })
            },
            Refusal::UnknownBurnin { dir: "/var/tmp/burnin/job-2-stage-3".into() },
        ),
        (
            "VM raw disk by device name",
            "claims",
            |f| {
                f.claims.as_mut().unwrap().push(claim(
                    ClaimKind::VmRawDisk,
                    "nextcloud",
                    "/dev/sdc",
                    None,
                ))
            },
            Refusal::VmRawDisk { vm: "nextcloud".into() },
        ),
        (
            "VM raw disk by serial link",
            "claims",
            |f| {
                f.claims.as_mut().unwrap().push(claim(
                    ClaimKind::VmRawDisk,
                    "plex",
                    "/dev/disk/by-id/ata-ST12000NM0008-2H3101_ZL2ABC01",
                    None,
                ))
            },
            Refusal::VmRawDisk { vm: "plex".into() },
        ),
        (
            "VM raw disk by WWN link",
            "claims",
            |f| {
                f.claims.as_mut().unwrap().push(claim(
                    ClaimKind::VmRawDisk,
                    "backup",
                    "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part1",
                    None,
                ))
            },
            Refusal::VmRawDisk { vm: "backup".into() },
        ),
        (
            "VM raw disk by a path that resolves to it",
            "claims",
            |f| {
                f.claims.as_mut().unwrap().push(claim(
                    ClaimKind::VmRawDisk,
                    "router",
                    "/dev/disk/by-path/pci-0000:00:17.0-ata-3",
                    Some("/dev/sdc"),
                ))
            },
            Refusal::VmRawDisk { vm: "router".into() },
        ),
        (
            "iSCSI extent",
            "claims",
            |f| f.claims.as_mut().unwrap().push(claim(ClaimKind::IscsiExtent, "lun0", "sdc", None)),
            Refusal::IscsiExtent { extent: "lun0".into() },
        ),
        (
            "iSCSI extent by CORE's identifier",
            "claims",
            |f| {
                f.claims.as_mut().unwrap().push(claim(
                    ClaimKind::IscsiExtent,
                    "lun7",
                    "{serial_lunid}ZL2ABC01_5000c500a1b2c3d4",
                    None,
                ))
            },
            Refusal::IscsiExtent { extent: "lun7".into() },
        ),
        (
            "SSH reaches another machine (hostname)",
            "host",
            |f| f.host.as_mut().unwrap().ssh.hostname = "backup-nas".into(),
            Refusal::OtherHost {
                api: format!("truenas.lan (host id {}…)", "ab".repeat(6)),
                ssh: format!("backup-nas (host id {}…)", "AB".repeat(6)),
            },
        ),
        (
            "SSH reaches another machine (host id)",
            "host",
            |f| f.host.as_mut().unwrap().ssh.host_id = Some("cd".repeat(32)),
            Refusal::OtherHost {
                api: format!("truenas.lan (host id {}…)", "ab".repeat(6)),
                ssh: format!("TrueNAS (host id {}…)", "cd".repeat(6)),
            },
        ),
    ]
}

/// Each fact that could not be gathered, alone.
fn unknowns() -> Vec<(&'static str, Change)> {
    const E: &str = "timed out after 20 s";
    vec![
        ("API", |f| f.api = Err(E.into())),
        ("partitions", |f| f.nas.partitions = Err(E.into())),
        ("signatures", |f| f.nas.signatures = Err(E.into())),
        ("mounts", |f| f.nas.mounted_devices = Err(E.into())),
        ("swaps", |f| f.nas.swap_devices = Err(E.into())),
        ("md", |f| f.nas.md_members = Err(E.into())),
        ("lvm", |f| f.nas.lvm_devices = Err(E.into())),
        ("holders", |f| f.nas.holders = Err(E.into())),
        ("zpool import", |f| f.nas.importable_pool_devices = Err(E.into())),
        ("zpool status", |f| f.nas.imported_pool_devices = Err(E.into())),
        ("open by", |f| f.nas.open_by = Err(E.into())),
        ("burn-ins", |f| f.nas.burnins = Err(E.into())),
        ("geom", |f| f.nas.geom = Err(E.into())),
        ("claims", |f| f.claims = Err(E.into())),
        ("host", |f| f.host = Err(E.into())),
    ]
}

#[test]
fn a_free_disk_with_every_fact_known_may_be_written() {
    assert_eq!(check(&free_disk()), Ok(()));
}

#[test]
fn each_condition_alone_refuses_with_its_own_reason() {
    for (name, _, change, expected) in conditions() {
        let mut facts = free_disk();
        change(&mut facts);
        let refusals = check(&facts).expect_err(name);
        assert_eq!(refusals, vec![expected], "{name}");
    }
}

#[test]
fn every_pair_of_conditions_refuses_and_names_both() {
    let all = conditions();
    for (i, (first, field_a, change_a, a)) in all.iter().enumerate() {
        for (second, field_b, change_b, b) in &all[i + 1..] {
            let mut facts = free_disk();
            change_a(&mut facts);
            change_b(&mut facts);
            let refusals = check(&facts).expect_err(first);
            // Two changes of the same fact replace or merge into each other; apart, both
            // reasons are named.
            if field_a != field_b {
                assert!(refusals.contains(a), "{first} + {second}: {refusals:?}");
            }
            // The host's two halves merge into one reason naming both.
            if field_a != field_b || *field_a != "host" {
                assert!(refusals.contains(b), "{first} + {second}: {refusals:?}");
            }
        }
    }
}

#[test]
fn everything_at_once_names_every_reason_once() {
    let mut facts = free_disk();
    for (_, _, change, _) in conditions() {
        change(&mut facts);
    }
    let refusals = check(&facts).unwrap_err();
    let mut unique = refusals.clone();
    unique.dedup();
    assert_eq!(unique.len(), refusals.len(), "{refusals:?}");
    // Conditions on the same fact replace each other: the last of each stands.
    assert_eq!(refusals.len(), 25, "{refusals:?}");
}

#[test]
fn a_fact_that_could_not_be_gathered_refuses_and_says_which() {
    for (name, change) in unknowns() {
        let mut facts = free_disk();
        change(&mut facts);
        let refusals = check(&facts).expect_err(name);
        assert_eq!(refusals.len(), 1, "{name}: {refusals:?}");
        let Refusal::Unverified { fact, error } = &refusals[0] else {
            panic!("{name}: {refusals:?}")
        };
        assert!(error.contains("timed out"), "{name}");
        assert!(!fact.is_empty());
        assert!(refusals[0].to_string().contains("could not be checked"));
    }
}

#[test]
fn unknown_facts_combined_with_conditions_still_refuse() {
    for (name, change) in unknowns() {
        for (condition, _, change_c, _) in conditions() {
            let mut facts = free_disk();
            change_c(&mut facts);
            change(&mut facts);
            assert!(check(&facts).is_err(), "{name} + {condition}");
        }
    }
    let facts = DiskFacts { nas: NasFacts::unknown("ssh: connection refused"), ..free_disk() };
    assert_eq!(check(&facts).unwrap_err().len(), 12);
}

#[test]
fn a_release_without_a_host_id_is_matched_by_hostname_alone() {
    let mut facts = free_disk();
    facts.host.as_mut().unwrap().api.host_id = None;
    assert_eq!(check(&facts), Ok(()));
    facts.host.as_mut().unwrap().ssh.hostname = "other".into();
    assert!(matches!(check(&facts).unwrap_err()[..], [Refusal::OtherHost { .. }]));
    // The API names a host id but the machine reached has none: not the same machine.
    let mut facts = free_disk();
    facts.host.as_mut().unwrap().ssh.host_id = None;
    assert!(matches!(check(&facts).unwrap_err()[..], [Refusal::OtherHost { .. }]));
}

#[test]
fn claims_on_other_disks_and_a_closed_geom_provider_do_not_refuse() {
    let mut facts = free_disk();
    facts.claims = Ok(vec![
        claim(ClaimKind::IscsiExtent, "lun1", "zvol/tank/lun1", None),
        claim(ClaimKind::VmRawDisk, "vm", "/dev/disk/by-id/ata-X_ZL2ABC011", Some("/dev/sdf")),
        claim(ClaimKind::VmRawDisk, "vm2", "/dev/sdcc", None),
        claim(ClaimKind::IscsiExtent, "lun2", "{serial_lunid}ZL2ABC011_5000c500a1b2c3d5", None),
        claim(ClaimKind::IscsiExtent, "lun3", "{serial}ZL2ABC0", None),
    ]);
    facts.nas.geom = Ok(Some(GeomDisk { ident: None, mediasize: None, mode: "r0w0e0".into() }));
    assert_eq!(check(&facts), Ok(()));
}

#[test]
fn device_names_are_matched_exactly_not_by_prefix() {
    for (device, disk, on) in [
        ("/dev/sdc", "sdc", true),
        ("sdc1", "sdc", true),
        ("/dev/sdcc1", "sdc", false),
        ("/dev/sdc-part1", "sdc", true),
        ("nvme0n1p2", "nvme0n1", true),
        ("nvme0n10", "nvme0n1", false),
        ("nvme0n1", "nvme0n1", true),
        ("/dev/ada1p2.eli", "ada1", true),
        ("ada10p1", "ada1", false),
        ("ada1s1a", "ada1", true),
        ("da1", "ada1", false),
        ("ada1", "da1", false),
        ("loop3p1", "loop3", true),
        ("boot-pool/ROOT/25.10", "sdc", false),
    ] {
        assert_eq!(is_on_disk(device, disk), on, "{device} on {disk}");
    }
}

#[test]
fn every_refusal_reads_as_a_sentence() {
    for (_, _, _, refusal) in conditions() {
        let text = refusal.to_string();
        assert!(text.len() > 10 && !text.ends_with('.'), "{text}");
    }
}

fn ok(stdout: &str) -> Answer<'_> {
    Answer { stdout, stderr: "", exit_code: 0 }
}

#[test]
fn lsblk_finds_partitions_holders_and_mounts() {
    let json = r#"{"blockdevices": [{"name": "/dev/sdb", "type": "disk", "size": 4000787030016, "fstype": null, "mountpoint": null,
        "children": [
          {"name": "/dev/sdb1", "type": "part", "size": 2147483648, "fstype": "linux_raid_member", "mountpoint": null,
             "children": [{"name": "/dev/md127", "type": "raid1", "size": 2147418112, "fstype": "swap", "mountpoint": "[SWAP]"}]},
          {"name": "/dev/sdb2", "type": "part", "size": 3998639460352, "fstype": "zfs_member", "mountpoint": null}
        ]}]}"#;
    let tree = lsblk(ok(json)).unwrap();
    assert_eq!(tree.partitions, ["/dev/sdb1", "/dev/sdb2"]);
    assert_eq!(tree.holders, ["/dev/md127"]);
    assert_eq!(tree.fstypes, ["linux_raid_member", "swap", "zfs_member"]);
    assert_eq!(tree.mountpoints, ["[SWAP]"]);
    let blank = r#"{"blockdevices":[{"name":"/dev/sdc","type":"disk","size":1,"fstype":null,"mountpoints":[null]}]}"#;
    assert_eq!(lsblk(ok(blank)).unwrap(), BlockTree::default());
}

#[test]
fn unreadable_or_failed_answers_are_errors_not_empty_lists() {
    let failed =
        Answer { stdout: "", stderr: "lsblk: /dev/sdz: not a block device", exit_code: 32 };
    assert!(lsblk(failed).unwrap_err().contains("not a block device"));
    assert!(lsblk(ok("")).is_err());
    assert!(lsblk(ok(r#"{"blockdevices": []}"#)).is_err());
    assert!(wipefs(ok("{not json")).is_err());
    assert!(mounts(ok("")).is_err());
    assert!(proc_swaps(ok("garbage")).is_err());
    assert!(swapctl(ok("")).is_err());
    assert!(gpart_show(ok("")).is_err());
    assert!(zpool_status(ok("")).is_err());
    assert!(zpool_import(ok("")).is_err());
    let timeout = Answer { stdout: "", stderr: "", exit_code: 124 };
    for parser in [wipefs, mounts, proc_swaps, swapctl, mdstat, pvs, holders, fstyp, gpart_show] {
        assert!(parser(timeout).unwrap_err().contains("124"));
    }
    let not_found = Answer { stdout: "", stderr: "sh: 1: zpool: not found", exit_code: 127 };
    assert!(not_found.not_found());
    assert!(zpool_import(not_found).is_err());
    assert!(zpool_status(not_found).is_err());
}

#[test]
fn compound_probes_need_their_header_and_their_end() {
    let open = "burnin-open 1\nopen\t812\tdd\nopen\t812\tdd\nopen\t90\tsmartctl\nend\n";
    assert_eq!(
        open_by(ok(open)).unwrap(),
        [OpenBy { pid: 812, command: "dd".into() }, OpenBy { pid: 90, command: "smartctl".into() }]
    );
    assert_eq!(open_by(ok("burnin-open 1\nend\n")).unwrap(), []);
    // Cut short, or another program answered: never "nothing holds it".
    assert!(open_by(ok("burnin-open 1\n")).is_err());
    assert!(open_by(ok("")).is_err());
    assert!(
        open_by(Answer {
            stdout: "burnin-open 1\nerror find is missing\n",
            stderr: "",
            exit_code: 127
        })
        .unwrap_err()
        .contains("find is missing")
    );
    let jobs = "motd\nburnin-jobs 1\njob\t/var/tmp/burnin/a-job-1-stage-3/\t4100\tZL2 X\t/dev/sdd\t/dev/disk/by-id/ata-M_ZL2_X\njob\t/var/tmp/burnin/job-7-stage-2/\t77\nend\n";
    let jobs = burnin_jobs(ok(jobs)).unwrap();
    assert_eq!(jobs[0].dir, "/var/tmp/burnin/a-job-1-stage-3");
    assert_eq!(jobs[0].serial.as_deref(), Some("ZL2 X"));
    assert_eq!(jobs[0].path.as_deref(), Some("/dev/disk/by-id/ata-M_ZL2_X"));
    assert_eq!((jobs[1].group, jobs[1].serial.as_deref()), (77, None));
    assert!(burnin_jobs(ok("burnin-jobs 1\njob\tx\n")).is_err());
    let host = format!("burnin-host 1\nhostname\ttruenas\nhostid\t{}\nend\n", "A".repeat(64));
    let host = host_identity(ok(&host)).unwrap();
    assert_eq!(host.hostname, "truenas");
    assert_eq!(host.host_id, Some("a".repeat(64)));
    let none = host_identity(ok("burnin-host 1\nhostname\tnas\nhostid-missing\nend\n")).unwrap();
    assert_eq!(none.host_id, None);
    assert!(host_identity(ok("burnin-host 1\nhostid\tzz\nend\n")).is_err());
}

#[test]
fn geom_disk_list_gives_ident_size_and_access_counts() {
    let listing = "Geom name: ada3\nProviders:\n1. Name: ada3\n   Mediasize: 4000787030016 (3.6T)\n   Sectorsize: 512\n   Stripesize: 4096\n   Stripeoffset: 0\n   Mode: r1w1e2\n   descr: WDC WD40EFRX-68N32N0\n   lunid: 50014ee2b5a1c2d3\n   ident: WD-WCC7K1234567\n   rotationrate: 5400\n   fwsectors: 63\n   fwheads: 16\n\n";
    let disk = geom_disk(ok(listing)).unwrap();
    assert_eq!(disk.ident.as_deref(), Some("WD-WCC7K1234567"));
    assert_eq!(disk.mediasize, Some(4_000_787_030_016));
    assert!(disk.is_open());
    let closed = listing.replace("r1w1e2", "r0w0e0");
    assert!(!geom_disk(ok(&closed)).unwrap().is_open());
    assert!(geom_disk(ok("")).is_err());
    assert!(
        geom_disk(Answer { stdout: "", stderr: "geom: No such geom: ada9.", exit_code: 1 })
            .is_err()
    );
}

#[test]
fn wipefs_lists_each_signature_type_once() {
    let json = r#"{"signatures": [
      {"device":"sdb","offset":"0x200","type":"gpt","uuid":null,"label":null},
      {"device":"sdb","offset":"0x3a3817d5e00","type":"gpt","uuid":null,"label":null},
      {"device":"sdb","offset":"0x1fe","type":"PMBR","uuid":null,"label":null}]}"#;
    assert_eq!(wipefs(ok(json)).unwrap(), ["gpt", "PMBR"]);
    assert_eq!(wipefs(ok("")).unwrap(), Vec::<String>::new());
}

#[test]
fn freebsd_gpart_and_fstyp() {
    let gpart = "=>         40  23437770672  ada1  GPT  (11T)\n           40           88        - free -  (44K)\n          128      4194304  ada1p1  freebsd-swap  (2.0G)\n      4194432  23433576280  ada1p2  freebsd-zfs  (11T)\n\n";
    assert_eq!(gpart_show(ok(gpart)).unwrap(), ["ada1p1", "ada1p2"]);
    let none = Answer { stdout: "", stderr: "gpart: No such geom: ada4.", exit_code: 1 };
    assert_eq!(gpart_show(none).unwrap(), Vec::<String>::new());
    assert_eq!(fstyp(ok("zfs\n")).unwrap(), ["zfs"]);
    let blank =
        Answer { stdout: "", stderr: "fstyp: /dev/ada4: filesystem not recognized", exit_code: 1 };
    assert_eq!(fstyp(blank).unwrap(), Vec::<String>::new());
}

#[test]
fn mount_swap_md_lvm_and_holders() {
    let mounts_text = "boot-pool/ROOT/25.10 / zfs ro,relatime 0 0\n/dev/sdc1 /mnt/usb ext4 rw 0 0\nproc /proc proc rw 0 0\n";
    assert_eq!(mounts(ok(mounts_text)).unwrap(), ["boot-pool/ROOT/25.10", "/dev/sdc1", "proc"]);
    let swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/md127                              partition\t2095036\t\t0\t\t-2\n";
    assert_eq!(proc_swaps(ok(swaps)).unwrap(), ["/dev/md127"]);
    let swapctl_text = "Device:       1024-blocks     Used:\n/dev/ada0p1.eli   2097152         0\n";
    assert_eq!(swapctl(ok(swapctl_text)).unwrap(), ["/dev/ada0p1"]);
    let md = "Personalities : [raid1]\nmd127 : active raid1 sdb1[1] sda1[0]\n      2095104 blocks super 1.2 [2/2] [UU]\n\nunused devices: <none>\n";
    assert_eq!(mdstat(ok(md)).unwrap(), ["sdb1", "sda1"]);
    let no_md =
        Answer { stdout: "", stderr: "cat: /proc/mdstat: No such file or directory", exit_code: 1 };
    assert_eq!(mdstat(no_md).unwrap(), Vec::<String>::new());
    assert_eq!(pvs(ok("  /dev/sdd1:vg0\n  /dev/sde:\n")).unwrap(), ["/dev/sdd1", "/dev/sde"]);
    assert_eq!(holders(ok("dm-0\n")).unwrap(), ["dm-0"]);
    assert_eq!(holders(ok("")).unwrap(), Vec::<String>::new());
}

#[test]
fn zpool_listings_give_each_pools_devices() {
    let import = "   pool: oldtank\n     id: 1234567890\n  state: ONLINE\n action: The pool can be imported using its name or numeric identifier.\n config:\n\n\toldtank     ONLINE\n\t  mirror-0  ONLINE\n\t    sdk1    ONLINE\n\t    sdl1    ONLINE\n\n   pool: scratch\n     id: 42\n  state: ONLINE\n config:\n\n\tscratch     ONLINE\n\t  sdm1      ONLINE\n\tlogs\n\t  sdn1      ONLINE\n";
    let devices = zpool_import(ok(import)).unwrap();
    let pairs: Vec<(&str, &str)> =
        devices.iter().map(|d| (d.pool.as_str(), d.device.as_str())).collect();
    assert_eq!(
        pairs,
        [("oldtank", "sdk1"), ("oldtank", "sdl1"), ("scratch", "sdm1"), ("scratch", "sdn1")]
    );
    // OpenZFS 2.x says "none" on stderr with exit 0; older releases exit 1.
    for exit_code in [0, 1] {
        let none = Answer { stdout: "", stderr: "no pools available to import\n", exit_code };
        assert_eq!(zpool_import(none).unwrap(), Vec::<PoolDevice>::new());
    }
    let broken =
        Answer { stdout: "", stderr: "cannot open '/dev': Permission denied", exit_code: 1 };
    assert!(zpool_import(broken).is_err(), "a failed scan is not an empty one");
    let status = "  pool: boot-pool\n state: ONLINE\nconfig:\n\n\tNAME        STATE     READ WRITE CKSUM\n\tboot-pool   ONLINE       0     0     0\n\t  /dev/sda3 ONLINE       0     0     0\n\nerrors: No known data errors\n\n  pool: tank\n state: ONLINE\nconfig:\n\n\tNAME           STATE     READ WRITE CKSUM\n\ttank           ONLINE       0     0     0\n\t  raidz1-0     ONLINE       0     0     0\n\t    /dev/sdf1  ONLINE       0     0     0\n\t    /dev/sdg1  ONLINE       0     0     0\n\tcache\n\t  /dev/nvme0n1p1  ONLINE   0     0     0\n\nerrors: No known data errors\n";
    let devices = zpool_status(ok(status)).unwrap();
    let pairs: Vec<(&str, &str)> =
        devices.iter().map(|d| (d.pool.as_str(), d.device.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("boot-pool", "/dev/sda3"),
            ("tank", "/dev/sdf1"),
            ("tank", "/dev/sdg1"),
            ("tank", "/dev/nvme0n1p1")
        ]
    );
    assert_eq!(zpool_status(ok("no pools available\n")).unwrap(), Vec::<PoolDevice>::new());
    let on_stderr = Answer { stdout: "", stderr: "no pools available\n", exit_code: 0 };
    assert_eq!(zpool_status(on_stderr).unwrap(), Vec::<PoolDevice>::new());
}
