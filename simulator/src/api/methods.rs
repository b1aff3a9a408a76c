//! The TrueNAS methods the simulator answers, per release. Everything not listed is
//! "Method does not exist" / "not found", as on a real host without that method.

use serde_json::{Value, json};

use super::{
    Dialect, Session,
    error::{CallError, errno},
    jobs, query, shapes,
};
use crate::{host::HostState, scenario::Personality};

/// Methods callable before logging in (`core.ping` and the login calls).
fn needs_auth(method: &str) -> bool {
    !matches!(
        method,
        "core.ping"
            | "auth.login"
            | "auth.login_ex"
            | "auth.login_with_api_key"
            | "auth.login_with_token"
            | "auth.mechanism_choices"
    )
}

/// What a call wants done besides its answer.
pub enum Effect {
    None,
    Subscribe { id: String, name: String },
    Unsubscribe { id: String },
}

fn param(params: &[Value], index: usize) -> &Value {
    params.get(index).unwrap_or(&Value::Null)
}

pub fn call(
    host: &mut HostState,
    session: &mut Session,
    method: &str,
    params: &[Value],
    uptime_seconds: f64,
) -> Result<(Value, Effect), CallError> {
    let personality = host.personality;
    if !exists(personality, session.dialect, method) {
        return Err(CallError::MethodNotFound { method: method.to_owned() });
    }
    if needs_auth(method) && !session.authenticated {
        return Err(CallError::NotAuthenticated);
    }
    let plain = |value: Value| Ok((value, Effect::None));
    match method {
        "core.ping" => plain(json!("pong")),
        "auth.mechanism_choices" => plain(json!(["API_KEY_PLAIN", "PASSWORD_PLAIN", "TOKEN_PLAIN"])),
        "auth.login_ex" => plain(login_ex(host, session, param(params, 0))?),
        "auth.login_with_api_key" => {
            let key = param(params, 0).as_str().ok_or_else(|| CallError::invalid("api_key", "Not a string"))?;
            let ok = key_matches(host, key);
            session.authenticated |= ok;
            plain(json!(ok))
        }
        "auth.login" | "auth.login_with_token" => plain(json!(false)),
        "auth.me" => plain(json!({"pw_name": host.api_user, "pw_uid": 0, "account_attributes": [], "privilege": {"roles": {"$set": host.api_roles}}})),
        "system.info" => plain(shapes::system_info(host, uptime_seconds)),
        "system.version" => plain(json!(shapes::system_info(host, uptime_seconds)["version"])),
        "system.ready" => plain(json!(true)),
        "disk.query" => {
            let options = param(params, 1);
            let pools = options["extra"]["pools"].as_bool().unwrap_or(false);
            let rows = host.present_drives().map(|drive| shapes::disk_entry(host, drive, pools)).collect();
            plain(query::filter_list(rows, param(params, 0), options)?)
        }
        "disk.details" => plain(disk_details(host, param(params, 0))?),
        "disk.get_unused" => {
            let rows = host
                .present_drives()
                .filter(|d| shapes::pool_name(host, d).is_none() && host.exported_pool_of(&d.spec.serial).is_none())
                .map(|d| shapes::disk_entry(host, d, false))
                .collect();
            plain(Value::Array(rows))
        }
        "boot.get_disks" => plain(json!(
            host.present_drives().filter(|d| host.is_boot(&d.spec.serial)).map(|d| d.devname.clone()).collect::<Vec<_>>()
        )),
        "pool.get_disks" => {
            let only = param(params, 0).as_u64();
            let names: Vec<String> = host
                .pools
                .iter()
                .filter(|pool| pool.imported)
                .enumerate()
                .filter(|(index, _)| only.is_none_or(|id| id == *index as u64 + 1))
                .flat_map(|(_, pool)| pool.members.iter())
                .filter_map(|serial| host.drive_by_serial(serial).filter(|d| d.present).map(|d| d.devname.clone()))
                .collect();
            plain(json!(names))
        }
        "pool.query" => {
            let rows = host
                .pools
                .iter()
                .filter(|pool| pool.imported)
                .enumerate()
                .map(|(index, pool)| shapes::pool_entry(host, pool, index + 1))
                .collect();
            plain(query::filter_list(rows, param(params, 0), param(params, 1))?)
        }
        "pool.import_find" => plain(json!(host.pools.iter().filter(|p| !p.imported).map(|p| json!({"name": p.name, "guid": format!("{}", p.guid), "status": "ONLINE", "hostname": host.name})).collect::<Vec<_>>())),
        "disk.temperatures" => {
            host.apply_staged_temperatures();
            plain(temperatures(host, params)?)
        }
        "disk.temperature" => {
            let name = param(params, 0).as_str().unwrap_or("");
            let drive = host.drive_by_name(name).ok_or_else(|| CallError::call(errno::ENOENT, "ENOENT", format!("Disk {name} not found")))?;
            plain(json!(drive.temperature()))
        }
        "ssh.config" => plain(ssh_config(host)),
        // A machine without a host id is modelled as a release without the method.
        "system.host_id" => match &host.host_id {
            Some(id) => plain(json!(id)),
            None => Err(CallError::MethodNotFound { method: method.to_owned() }),
        },
        "vm.query" => {
            let names: Vec<&str> = vm_names(host);
            let rows = names.iter().enumerate().map(|(i, name)| json!({"id": i + 1, "name": name})).collect();
            plain(query::filter_list(rows, param(params, 0), param(params, 1))?)
        }
        "vm.device.query" => {
            let names = vm_names(host);
            let rows = host
                .vm_raw_disks
                .iter()
                .enumerate()
                .map(|(i, disk)| {
                    let vm = names.iter().position(|n| *n == disk.name).unwrap_or(0) + 1;
                    if personality.is_core() {
                        json!({"id": i + 1, "vm": vm, "dtype": "RAW", "order": 1001 + i,
                               "attributes": {"path": disk.path, "type": "AHCI", "boot": false, "size": null}})
                    } else {
                        json!({"id": i + 1, "vm": vm, "order": 1001 + i,
                               "attributes": {"dtype": "RAW", "path": disk.path, "type": "VIRTIO", "boot": false, "size": null,
                                              "iotype": "THREADS", "serial": null, "logical_sectorsize": null, "physical_sectorsize": null}})
                    }
                })
                .collect();
            plain(query::filter_list(rows, param(params, 0), param(params, 1))?)
        }
        "iscsi.extent.query" => {
            let rows = host
                .iscsi_extents
                .iter()
                .enumerate()
                .map(|(i, extent)| {
                    json!({"id": i + 1, "name": extent.name, "type": "DISK", "disk": extent.path,
                           "path": extent.path, "enabled": true, "serial": format!("SIMEXT{i:04}"), "blocksize": 512})
                })
                .collect();
            plain(query::filter_list(rows, param(params, 0), param(params, 1))?)
        }
        "core.get_jobs" => {
            let rows = host.jobs.values().map(|job| jobs::encode(job, personality)).collect();
            plain(query::filter_list(rows, param(params, 0), param(params, 1))?)
        }
        "core.job_abort" => {
            let id = param(params, 0).as_u64().ok_or_else(|| CallError::invalid("id", "Not an integer"))?;
            jobs::abort(host, id)?;
            plain(Value::Null)
        }
        "core.subscribe" => {
            let name = param(params, 0).as_str().ok_or_else(|| CallError::invalid("name", "Not a string"))?;
            if !subscribable(personality, name) {
                return Err(CallError::call(errno::ENOENT, "ENOENT", format!("Event {name:?} not found")));
            }
            let id = session.new_id();
            Ok((json!(id), Effect::Subscribe { id, name: name.to_owned() }))
        }
        "core.unsubscribe" => {
            let id = param(params, 0).as_str().unwrap_or("").to_owned();
            Ok((Value::Null, Effect::Unsubscribe { id }))
        }
        "smart.test.manual_test" => plain(jobs::manual_test(host, param(params, 0))?),
        "smart.test.results" => plain(query::filter_list(jobs::results(host), param(params, 0), param(params, 1))?),
        "smart.test.abort" => {
            let disk = param(params, 0).as_str().unwrap_or("");
            let drive = host.drive_by_name_mut(disk).ok_or_else(|| CallError::call(errno::ENOENT, "ENOENT", format!("Disk {disk} not found")))?;
            drive.abort_self_test();
            plain(Value::Null)
        }
        "smart.test.disk_choices" => {
            let choices: serde_json::Map<String, Value> = host
                .present_drives()
                .filter(|d| !(personality.is_core() && d.devname.starts_with("nv")))
                .map(|d| (shapes::identifier(d), json!(d.devname)))
                .collect();
            plain(Value::Object(choices))
        }
        _ => Err(CallError::MethodNotFound { method: method.to_owned() }),
    }
}

/// Whether `method` exists in this release and dialect.
fn exists(personality: Personality, dialect: Dialect, method: &str) -> bool {
    let core = personality.is_core();
    match method {
        "auth.login_ex"
        | "disk.details"
        | "core.subscribe"
        | "core.unsubscribe"
        | "auth.mechanism_choices" => {
            !core && (dialect == Dialect::JsonRpc || method == "disk.details")
        }
        "smart.test.manual_test" | "smart.test.results" | "smart.test.disk_choices" => {
            personality.has_smart_api()
        }
        "smart.test.abort" => personality == Personality::Scale2504,
        "disk.temperature" => core || personality == Personality::Scale2504,
        "pool.import_find" => true,
        "system.host_id" => true,
        _ => matches!(
            method,
            "core.ping"
                | "auth.login"
                | "auth.login_with_api_key"
                | "auth.login_with_token"
                | "auth.me"
                | "system.info"
                | "system.version"
                | "system.ready"
                | "disk.query"
                | "disk.get_unused"
                | "boot.get_disks"
                | "pool.get_disks"
                | "pool.query"
                | "disk.temperatures"
                | "ssh.config"
                | "core.get_jobs"
                | "core.job_abort"
                | "vm.query"
                | "vm.device.query"
                | "iscsi.extent.query"
        ),
    }
}

/// The VMs the raw disks belong to, in order of first mention.
fn vm_names(host: &HostState) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for disk in &host.vm_raw_disks {
        if !names.contains(&disk.name.as_str()) {
            names.push(&disk.name);
        }
    }
    names
}

fn subscribable(personality: Personality, name: &str) -> bool {
    let base = name.split(':').next().unwrap_or(name);
    match base {
        "core.get_jobs" => true,
        "disk.query" => personality.has_disk_events(),
        _ => false,
    }
}

fn key_matches(host: &HostState, key: &str) -> bool {
    !host.api_key_revoked && key == host.api_key
}

/// `auth.login_ex` (reference §1.2, Authentication).
fn login_ex(
    host: &mut HostState,
    session: &mut Session,
    request: &Value,
) -> Result<Value, CallError> {
    let mechanism = request["mechanism"]
        .as_str()
        .ok_or_else(|| CallError::invalid("login_data.mechanism", "Field required"))?;
    match mechanism {
        "API_KEY_PLAIN" => {
            let username = request["username"].as_str().unwrap_or("");
            let key = request["api_key"]
                .as_str()
                .ok_or_else(|| CallError::invalid("login_data.api_key", "Field required"))?;
            if !valid_key_format(key) {
                return Ok(json!({"response_type": "AUTH_ERR"}));
            }
            if !session.secure_transport && key == host.api_key {
                // Per NEP, a plain API key seen on an insecure transport is revoked
                // (reference §1.2 ⚠; middleware plugins/auth.py ~933).
                host.api_key_revoked = true;
                return Ok(json!({"response_type": "EXPIRED"}));
            }
            if username == host.api_user && key_matches(host, key) {
                session.authenticated = true;
                Ok(
                    json!({"response_type": "SUCCESS", "user_info": null, "authenticator": "LEVEL_1", "reconnect_token": null}),
                )
            } else {
                Ok(json!({"response_type": "AUTH_ERR"}))
            }
        }
        "PASSWORD_PLAIN" | "TOKEN_PLAIN" | "OTP_TOKEN" => Ok(json!({"response_type": "AUTH_ERR"})),
        other => Err(CallError::invalid(
            "login_data.mechanism",
            format!(
                "Input should be 'API_KEY_PLAIN', 'PASSWORD_PLAIN', 'TOKEN_PLAIN' or 'OTP_TOKEN', not {other:?}"
            ),
        )),
    }
}

/// `<numeric id>-<key material>` (api_client `RAW_KEY_PATTERN`).
fn valid_key_format(key: &str) -> bool {
    let Some((id, material)) = key.split_once('-') else { return false };
    !id.is_empty()
        && id.chars().all(|c| c.is_ascii_digit())
        && !material.is_empty()
        && material.chars().all(|c| c.is_ascii_alphanumeric())
}

fn disk_details(host: &HostState, options: &Value) -> Result<Value, CallError> {
    let kind = options["type"].as_str().unwrap_or("BOTH");
    let (used, unused): (Vec<_>, Vec<_>) = host.present_drives().partition(|drive| {
        shapes::pool_name(host, drive).is_some()
            || host.exported_pool_of(&drive.spec.serial).is_some()
    });
    let render = |drives: Vec<&crate::drive::DriveSim>| -> Value {
        Value::Array(drives.into_iter().map(|d| shapes::details_entry(host, d)).collect())
    };
    match kind {
        "USED" => Ok(render(used)),
        "UNUSED" => Ok(render(unused)),
        "BOTH" => Ok(json!({"used": render(used), "unused": render(unused)})),
        other => Err(CallError::invalid(
            "options.type",
            format!("Input should be 'USED', 'UNUSED' or 'BOTH', not {other:?}"),
        )),
    }
}

fn temperatures(host: &HostState, params: &[Value]) -> Result<Value, CallError> {
    let names: Vec<String> = match param(params, 0) {
        Value::Array(names) => names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
        Value::Null => Vec::new(),
        _ => return Err(CallError::invalid("names", "Not a list")),
    };
    let personality = host.personality;
    let include_thresholds = matches!(personality, Personality::Scale2510 | Personality::Scale26)
        && param(params, 1).as_bool().unwrap_or(false);
    let mut out = serde_json::Map::new();
    for drive in host.present_drives() {
        if !names.is_empty() && !names.contains(&drive.devname) {
            continue;
        }
        let celsius = drive.temperature();
        let value = match personality {
            // 25.10+ reads hwmon: floats, and no sensor for SAS without drivetemp (§2.2).
            Personality::Scale2510 | Personality::Scale26 => {
                if drive.spec.protocol == crate::scenario::Protocol::Scsi {
                    Value::Null
                } else if include_thresholds {
                    json!([celsius as f64, 70.0])
                } else {
                    json!(celsius as f64)
                }
            }
            _ => json!(celsius),
        };
        out.insert(drive.devname.clone(), value);
    }
    Ok(Value::Object(out))
}

fn ssh_config(host: &HostState) -> Value {
    use base64_lite::encode;
    let key = host.ssh_host_key_pub.clone().unwrap_or_default();
    let mut config = json!({
        "id": 1,
        "bindiface": [],
        "tcpport": host.ssh_port,
        "password_login_groups": [],
        "passwordauth": false,
        "kerberosauth": false,
        "tcpfwd": false,
        "compression": false,
        "sftp_log_level": "",
        "sftp_log_facility": "",
        "weak_ciphers": [],
        "options": "",
        "privatekey": null,
        "host_dsa_key": null,
        "host_dsa_key_pub": null,
        "host_dsa_key_cert_pub": null,
        "host_ecdsa_key": null,
        "host_ecdsa_key_pub": null,
        "host_ecdsa_key_cert_pub": null,
        "host_ed25519_key": null,
        "host_ed25519_key_pub": if key.is_empty() { Value::Null } else { json!(encode(format!("{key}\n").as_bytes())) },
        "host_ed25519_key_cert_pub": null,
        "host_key": null,
        "host_key_pub": null,
        "host_rsa_key": null,
        "host_rsa_key_pub": null,
        "host_rsa_key_cert_pub": null,
    });
    if host.personality.is_core()
        && let Some(map) = config.as_object_mut()
    {
        map.insert("rootlogin".into(), json!(true));
    }
    config
}

/// Standard base64, enough for `ssh.config`'s key fields.
mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            out.push(ALPHABET[(n >> 18) as usize & 63] as char);
            out.push(ALPHABET[(n >> 12) as usize & 63] as char);
            out.push(if chunk.len() > 1 { ALPHABET[(n >> 6) as usize & 63] as char } else { '=' });
            out.push(if chunk.len() > 2 { ALPHABET[n as usize & 63] as char } else { '=' });
        }
        out
    }

    #[cfg(test)]
    #[test]
    fn encodes_like_rfc_4648() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foob"), "Zm9vYg==");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
    }
}
