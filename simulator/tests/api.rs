//! The simulated TrueNAS API over real sockets: both dialects, the shapes each release
//! answers with, the error framing, events, faults and time scaling.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod api_common;

use std::time::{Duration, Instant};

use api_common::{Client, KEY, host, scenario};
use burnin_simulator::{Config, Faults, Personality, SimHost, Simulator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(personalities: &[Personality]) -> Simulator {
    let hosts = personalities
        .iter()
        .enumerate()
        .map(|(index, personality)| host(&format!("nas{index}"), *personality))
        .collect();
    burnin_simulator::start(Config::new(scenario(hosts))).await.unwrap()
}

/// A plain HTTP/1.1 GET, returning status and body.
async fn http_get(host: &SimHost, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(host.api_addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", host.api_addr);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn scale_lists_its_api_versions_and_core_has_no_such_route() {
    let sim = start(&[Personality::Scale2510, Personality::Core13]).await;
    let (status, body) = http_get(&sim.hosts[0], "/api/versions").await;
    assert_eq!(status, 200);
    let versions: Vec<String> = serde_json::from_str(&body).unwrap();
    assert!(versions.contains(&"v25.10.0".to_owned()) && !versions.contains(&"v26.0.0".to_owned()));
    let (status, _) = http_get(&sim.hosts[1], "/api/versions").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn login_ex_accepts_the_key_and_refuses_a_wrong_one() {
    let sim = start(&[Personality::Scale2510]).await;
    let url = sim.hosts[0].api_url();
    let mut client = Client::jsonrpc(&url).await;
    assert_eq!(client.call("core.ping", json!([])).await, Ok(json!("pong")));

    let denied = client.call("disk.query", json!([])).await.unwrap_err();
    assert_eq!(denied["code"], -32001);
    assert_eq!(denied["data"]["errname"], "EACCES");
    assert_eq!(denied["data"]["reason"], "Not authenticated");

    let wrong = client
        .call(
            "auth.login_ex",
            json!([{"mechanism": "API_KEY_PLAIN", "username": "root", "api_key": "1-WrongKey"}]),
        )
        .await
        .unwrap();
    assert_eq!(wrong["response_type"], "AUTH_ERR");
    assert!(
        client.call("disk.query", json!([])).await.is_err(),
        "a failed login must not authenticate"
    );
    client.login().await;
    assert!(client.call("disk.query", json!([])).await.is_ok());
}

#[tokio::test]
async fn disk_query_reports_pool_membership_with_extra_pools_only() {
    let sim = start(&[Personality::Scale2510]).await;
    let mut client = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    client.login().await;
    let disks = client.call("disk.query", json!([[], {"extra": {"pools": true}}])).await.unwrap();
    let disks = disks.as_array().unwrap();
    assert_eq!(disks.len(), 6);
    let by_serial = |serial: &str| disks.iter().find(|d| d["serial"] == serial).unwrap().clone();
    assert_eq!(by_serial("POOL0001")["pool"], "tank");
    assert_eq!(by_serial("BOOT0001")["pool"], "boot-pool");
    assert_eq!(by_serial("EXPD0001")["pool"], Value::Null, "an exported pool is not imported");
    assert_eq!(by_serial("FREE0001")["pool"], Value::Null);
    let free = by_serial("FREE0001");
    assert_eq!(free["name"], "sde");
    assert_eq!(free["type"], "HDD");
    assert_eq!(free["rotationrate"], 7200);
    let identifier = free["identifier"].as_str().unwrap();
    assert!(identifier.starts_with("{serial_lunid}FREE0001_5"), "{identifier}");
    let nvme = by_serial("NVME0001");
    assert_eq!((nvme["name"].as_str(), nvme["type"].as_str()), (Some("nvme0n1"), Some("SSD")));
    // 25.10 dropped the SMART fields (reference §2.1).
    assert!(free.get("togglesmart").is_none() && free.get("supports_smart").is_none());

    let without = client
        .call("disk.query", json!([[["serial", "=", "POOL0001"]], {"get": true}]))
        .await
        .unwrap();
    assert_eq!(without["pool"], Value::Null, "pool is null without extra.pools");
}

#[tokio::test]
async fn disk_details_splits_used_and_unused_and_names_exported_pools() {
    let sim = start(&[Personality::Scale2510]).await;
    let mut client = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    client.login().await;
    let details = client
        .call("disk.details", json!([{"join_partitions": false, "type": "BOTH"}]))
        .await
        .unwrap();
    let serials = |side: &str| -> Vec<String> {
        details[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["serial"].as_str().unwrap().to_owned())
            .collect()
    };
    let used = serials("used");
    assert!(
        used.contains(&"POOL0001".into())
            && used.contains(&"BOOT0001".into())
            && used.contains(&"EXPD0001".into())
    );
    assert_eq!(serials("unused"), vec!["FREE0001".to_owned(), "NVME0001".to_owned()]);
    let exported =
        details["used"].as_array().unwrap().iter().find(|d| d["serial"] == "EXPD0001").unwrap();
    assert_eq!(exported["exported_zpool"], "oldbackup");
    assert_eq!(exported["imported_zpool"], Value::Null);
    assert_eq!(exported["partitions"].as_array().unwrap().len(), 1);
    let boot = client.call("boot.get_disks", json!([])).await.unwrap();
    assert_eq!(boot, json!(["sda"]));
    let pool_disks = client.call("pool.get_disks", json!([])).await.unwrap();
    assert_eq!(pool_disks, json!(["sdb", "sdc"]));
}

#[tokio::test]
async fn pool_query_carries_the_topology_down_to_the_disks() {
    let sim = start(&[Personality::Scale2510, Personality::Core13]).await;
    for (index, (partition, core)) in [("sdb1", false), ("ada1p2", true)].into_iter().enumerate() {
        let url = sim.hosts[index].api_url();
        let mut client =
            if core { Client::legacy(&url).await } else { Client::jsonrpc(&url).await };
        client.login().await;
        let pools = client.call("pool.query", json!([])).await.unwrap();
        assert_eq!(pools.as_array().unwrap().len(), 1, "only imported pools");
        let mirror = &pools[0]["topology"]["data"][0];
        assert_eq!(mirror["type"], "MIRROR");
        assert_eq!(mirror["children"][0]["device"], partition);
        assert_eq!(mirror["children"][0]["type"], "DISK");
    }
}

#[tokio::test]
async fn pool_query_reports_size_usage_and_health_and_the_faults_change_them() {
    let sim = start(&[Personality::Scale2510, Personality::Core13]).await;
    for (index, core) in [false, true].into_iter().enumerate() {
        let host = &sim.hosts[index];
        let url = host.api_url();
        let mut client =
            if core { Client::legacy(&url).await } else { Client::jsonrpc(&url).await };
        client.login().await;
        let tank = client.call("pool.query", json!([])).await.unwrap()[0].clone();
        assert_eq!(tank["status"], "ONLINE");
        assert_eq!(tank["healthy"], true);
        let size = tank["size"].as_u64().unwrap();
        let allocated = tank["allocated"].as_u64().unwrap();
        assert_eq!(size, 4_000_000_000_000, "a mirror of two 4 TB disks holds one");
        assert_eq!(allocated, size / 2, "the scenario's 50 %");
        assert_eq!(tank["free"].as_u64().unwrap(), size - allocated);

        host.set_faults(burnin_simulator::Faults {
            faulted_disks: vec!["POOL0001".into()],
            pool_used_percent: vec![("tank".into(), 93.0)],
            ..Default::default()
        });
        let tank = client.call("pool.query", json!([])).await.unwrap()[0].clone();
        assert_eq!(tank["status"], "DEGRADED");
        assert_eq!(tank["healthy"], false);
        assert_eq!(tank["topology"]["data"][0]["status"], "DEGRADED");
        assert_eq!(tank["topology"]["data"][0]["children"][0]["status"], "FAULTED");
        assert_eq!(tank["allocated"].as_u64().unwrap(), size / 100 * 93);
        host.set_faults(burnin_simulator::Faults {
            faulted_disks: vec!["POOL0001".into(), "POOL0002".into()],
            ..Default::default()
        });
        let tank = client.call("pool.query", json!([])).await.unwrap()[0].clone();
        assert_eq!(tank["status"], "UNAVAIL", "no redundancy left");
        host.set_faults(burnin_simulator::Faults::default());
        let tank = client.call("pool.query", json!([])).await.unwrap()[0].clone();
        assert_eq!(tank["status"], "ONLINE");
    }
}

#[tokio::test]
async fn scale_2510_has_no_smart_api_but_2504_and_core_do() {
    let sim = start(&[Personality::Scale2510, Personality::Scale2504, Personality::Core13]).await;
    let mut scale = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    scale.login().await;
    let missing = scale.call("smart.test.results", json!([])).await.unwrap_err();
    assert_eq!(missing["code"], -32601);
    assert_eq!(missing["message"], "Method does not exist");

    let mut older = Client::jsonrpc(&sim.hosts[1].api_url()).await;
    older.login().await;
    assert!(older.call("smart.test.results", json!([])).await.is_ok());

    let mut core = Client::legacy(&sim.hosts[2].api_url()).await;
    core.login().await;
    assert!(core.call("smart.test.results", json!([])).await.is_ok());
    let unknown = core.call("no.such.method", json!([])).await.unwrap_err();
    assert!(unknown["reason"].as_str().unwrap().contains("not found"), "{unknown}");
}

#[tokio::test]
async fn malformed_requests_get_the_jsonrpc_error_codes() {
    let sim = start(&[Personality::Scale2510]).await;
    let mut client = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    client.send_raw("{not json").await;
    assert_eq!(client.next_reply().await.unwrap()["error"]["code"], -32700);
    client.send_raw(r#"[{"jsonrpc":"2.0","id":1,"method":"core.ping"}]"#).await;
    assert_eq!(client.next_reply().await.unwrap()["error"]["code"], -32600);
    client.send_raw(r#"{"id":2,"method":"core.ping"}"#).await;
    assert_eq!(client.next_reply().await.unwrap()["error"]["code"], -32600);
    client.send_raw(r#"{"jsonrpc":"2.0","id":3,"method":"core.ping","params":{"a":1}}"#).await;
    let reply = client.next_reply().await.unwrap();
    assert_eq!((reply["id"].clone(), reply["error"]["code"].clone()), (json!(3), json!(-32602)));
    client.login().await;
    let invalid = client.call("disk.details", json!([{"type": "SOME"}])).await.unwrap_err();
    assert_eq!(invalid["code"], -32602);
    assert_eq!(invalid["data"]["extra"][0][0], "options.type");
    // A notification (no id) gets no answer; the next call still does.
    client.send_raw(r#"{"jsonrpc":"2.0","method":"core.ping"}"#).await;
    assert_eq!(client.call("core.ping", json!([])).await, Ok(json!("pong")));
}

#[tokio::test]
async fn an_oversized_message_before_login_closes_the_socket() {
    let sim = start(&[Personality::Scale2510]).await;
    let mut client = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    let padding = "x".repeat(9000);
    client
        .send_raw(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"core.ping","params":["{padding}"]}}"#
        ))
        .await;
    assert!(client.next_reply().await.is_none(), "the socket stays open");
}

#[tokio::test]
async fn core_speaks_the_legacy_protocol_with_freebsd_names() {
    let sim = start(&[Personality::Core13]).await;
    let url = sim.hosts[0].api_url();
    let (status, _) = http_get(&sim.hosts[0], "/api/current").await;
    assert_eq!(status, 404, "CORE has no JSON-RPC endpoint");
    let mut client = Client::legacy(&url).await;
    let pong = client.exchange(json!({"msg": "ping", "id": "p1"})).await;
    assert_eq!(pong, json!({"msg": "pong", "id": "p1"}));
    assert_eq!(client.call("auth.login_with_api_key", json!(["1-Wrong"])).await, Ok(json!(false)));
    client.login().await;
    let disks = client.call("disk.query", json!([[], {"extra": {"pools": true}}])).await.unwrap();
    let names: Vec<&str> =
        disks.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ada0", "ada1", "ada2", "ada3", "ada4", "nvd0"]);
    let info = client.call("system.info", json!([])).await.unwrap();
    assert!(info["version"].as_str().unwrap().starts_with("TrueNAS-13"));
    assert!(info["datetime"]["$date"].as_i64().unwrap() > 1_700_000_000_000);

    let mut wrong = Client::legacy_unconnected(&url).await;
    let failed = wrong.exchange(json!({"msg": "connect", "version": "2", "support": ["2"]})).await;
    assert_eq!(failed, json!({"msg": "failed", "version": "1"}));
}

#[tokio::test]
async fn a_core_smart_test_is_a_job_whose_progress_moves_with_simulated_time() {
    let sim = start(&[Personality::Core13]).await;
    let mut client = Client::legacy(&sim.hosts[0].api_url()).await;
    client.login().await;
    let ready = client.exchange(json!({"msg": "sub", "id": "jobs", "name": "core.get_jobs"})).await;
    assert_eq!(ready, json!({"msg": "ready", "subs": ["jobs"]}));
    let disk =
        client.call("disk.query", json!([[["name", "=", "ada2"]], {"get": true}])).await.unwrap();
    let started = client
        .call(
            "smart.test.manual_test",
            json!([[{"identifier": disk["identifier"], "type": "SHORT"}]]),
        )
        .await
        .unwrap();
    assert_eq!(started[0]["disk"], "ada2");
    assert_eq!(started[0]["error"], Value::Null);
    let job = started[0]["job"].as_u64().unwrap();

    sim.clock.advance(60.0);
    let changed = client
        .wait_notification(|event| {
            event["msg"] == "changed"
                && event["id"] == job
                && event["fields"]["progress"]["percent"].as_f64().unwrap_or(0.0) >= 50.0
        })
        .await;
    assert_eq!(changed["collection"], "core.get_jobs");
    assert_eq!(changed["fields"]["state"], "RUNNING");

    // A second test on the same drive is refused with smartctl's own words.
    let again = client
        .call(
            "smart.test.manual_test",
            json!([[{"identifier": disk["identifier"], "type": "LONG"}]]),
        )
        .await
        .unwrap();
    assert!(
        again[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("Can't start self-test without aborting current test")
    );

    sim.clock.advance(120.0);
    let jobs = client.call("core.get_jobs", json!([[["id", "=", job]]])).await.unwrap();
    assert_eq!(jobs[0]["state"], "SUCCESS");
    let results = client
        .call("smart.test.results", json!([[["disk", "=", "ada2"]], {"get": true}]))
        .await
        .unwrap();
    assert_eq!(results["tests"][0]["status"], "SUCCESS");
    assert_eq!(results["tests"][0]["description"], "Short offline");
    assert_eq!(results["current_test"], Value::Null);
}

#[tokio::test]
async fn aborting_a_core_smart_job_aborts_the_self_test() {
    let sim = start(&[Personality::Core13]).await;
    let mut client = Client::legacy(&sim.hosts[0].api_url()).await;
    client.login().await;
    let disk = client
        .call("disk.query", json!([[["serial", "=", "FREE0001"]], {"get": true}]))
        .await
        .unwrap();
    let started = client
        .call(
            "smart.test.manual_test",
            json!([[{"identifier": disk["identifier"], "type": "LONG"}]]),
        )
        .await
        .unwrap();
    let job = started[0]["job"].as_u64().unwrap();
    sim.clock.advance(3600.0);
    let results = client
        .call("smart.test.results", json!([[["disk", "=", "ada4"]], {"get": true}]))
        .await
        .unwrap();
    assert!(results["current_test"]["progress"].as_u64().unwrap() > 0);
    assert_eq!(client.call("core.job_abort", json!([job])).await, Ok(Value::Null));
    let jobs =
        client.call("core.get_jobs", json!([[["id", "=", job]], {"get": true}])).await.unwrap();
    assert_eq!(jobs["state"], "ABORTED");
    let results = client
        .call("smart.test.results", json!([[["disk", "=", "ada4"]], {"get": true}]))
        .await
        .unwrap();
    assert_eq!(results["tests"][0]["status_verbose"], "Aborted by host");
}

#[tokio::test]
async fn core_refuses_nvme_self_tests_through_the_api() {
    let sim = start(&[Personality::Core13]).await;
    let mut client = Client::legacy(&sim.hosts[0].api_url()).await;
    client.login().await;
    let nvme =
        client.call("disk.query", json!([[["name", "=", "nvd0"]], {"get": true}])).await.unwrap();
    let refused = client
        .call(
            "smart.test.manual_test",
            json!([[{"identifier": nvme["identifier"], "type": "SHORT"}]]),
        )
        .await
        .unwrap_err();
    assert_eq!(refused["type"], "VALIDATION");
}

#[tokio::test]
async fn temperatures_are_floats_on_2510_and_integers_on_core() {
    let sim = start(&[Personality::Scale2510, Personality::Core13]).await;
    let mut scale = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    scale.login().await;
    let temps = scale.call("disk.temperatures", json!([["sde"]])).await.unwrap();
    assert!(temps["sde"].is_f64(), "{temps}");
    let with_limits = scale.call("disk.temperatures", json!([["sde"], true])).await.unwrap();
    assert!(with_limits["sde"].is_array());
    let mut core = Client::legacy(&sim.hosts[1].api_url()).await;
    core.login().await;
    let temps = core.call("disk.temperatures", json!([["ada4"], "NEVER"])).await.unwrap();
    assert!(temps["ada4"].is_i64(), "{temps}");
}

#[tokio::test]
async fn ssh_config_publishes_the_host_key_base64_encoded() {
    let sim = start(&[Personality::Scale2510]).await;
    let mut client = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    client.login().await;
    let config = client.call("ssh.config", json!([])).await.unwrap();
    assert_eq!(config["tcpport"], sim.hosts[0].ssh_addr.port());
    if !sim.hosts[0].ssh_host_key.is_empty() {
        assert!(config["host_ed25519_key_pub"].is_string());
    }
}

#[tokio::test]
async fn scale_26_publishes_disk_events_and_2510_refuses_the_subscription() {
    let sim = start(&[Personality::Scale26, Personality::Scale2510]).await;
    let mut client = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    client.login().await;
    let id = client.call("core.subscribe", json!(["disk.query"])).await.unwrap();
    assert!(id.as_str().unwrap().len() >= 32);
    sim.hosts[0].with(|state| assert!(state.remove_drive("FREE0001")));
    let removed = client.wait_notification(|n| n["params"]["msg"] == "removed").await;
    assert_eq!(removed["method"], "collection_update");
    assert_eq!(removed["params"]["collection"], "disk.query");
    assert!(removed["params"]["id"].as_str().unwrap().contains("FREE0001"));

    let mut older = Client::jsonrpc(&sim.hosts[1].api_url()).await;
    older.login().await;
    assert!(older.call("core.subscribe", json!(["disk.query"])).await.is_err());
    assert!(older.call("core.subscribe", json!(["core.get_jobs"])).await.is_ok());
}

#[tokio::test]
async fn a_drive_that_comes_back_under_another_name_keeps_its_identifier() {
    let sim = start(&[Personality::Scale2510]).await;
    let mut client = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    client.login().await;
    let before = client
        .call("disk.query", json!([[["serial", "=", "FREE0001"]], {"get": true}]))
        .await
        .unwrap();
    assert_eq!(before["name"], "sde");
    sim.hosts[0].with(|state| assert!(state.remove_drive("FREE0001")));
    let gone = client.call("disk.query", json!([[["serial", "=", "FREE0001"]]])).await.unwrap();
    assert_eq!(gone, json!([]));
    sim.hosts[0].with(|state| assert!(state.return_drive("FREE0001", "sdh")));
    let after = client
        .call("disk.query", json!([[["serial", "=", "FREE0001"]], {"get": true}]))
        .await
        .unwrap();
    assert_eq!(after["name"], "sdh");
    assert_eq!(after["identifier"], before["identifier"]);
}

#[tokio::test]
async fn faults_refuse_fail_delay_and_drop_the_api() {
    let sim = start(&[Personality::Scale2510]).await;
    let host = &sim.hosts[0];
    let url = format!("{}/api/current", host.api_url());

    host.set_faults(Faults { api_refuse: true, ..Faults::default() });
    assert!(
        tokio_tungstenite::connect_async(&url).await.is_err(),
        "a refusing API accepted a WebSocket"
    );

    host.set_faults(Faults { offline: true, ..Faults::default() });
    assert!(tokio_tungstenite::connect_async(&url).await.is_err(), "an offline host answered");

    host.set_faults(Faults { api_http_500: true, ..Faults::default() });
    let error = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    assert!(error.to_string().contains("500"), "{error}");

    host.set_faults(Faults { api_delay_ms: 300, ..Faults::default() });
    let mut slow = Client::jsonrpc(&host.api_url()).await;
    let started = Instant::now();
    assert_eq!(slow.call("core.ping", json!([])).await, Ok(json!("pong")));
    assert!(started.elapsed() >= Duration::from_millis(300));

    host.set_faults(Faults::default());
    let mut client = Client::jsonrpc(&host.api_url()).await;
    client.login().await;
    host.drop_api_connections();
    assert!(client.next_reply().await.is_none(), "the socket survived the drop");
    // And the host answers new connections afterwards.
    let mut again = Client::jsonrpc(&host.api_url()).await;
    again.login().await;
}

#[tokio::test]
async fn simulated_time_runs_at_the_scenario_speed() {
    let mut spec = scenario(vec![host("fast", Personality::Core13)]);
    spec.speed = 600.0;
    let sim = burnin_simulator::start(Config::new(spec)).await.unwrap();
    let mut client = Client::legacy(&sim.hosts[0].api_url()).await;
    client.login().await;
    let disk =
        client.call("disk.query", json!([[["name", "=", "ada2"]], {"get": true}])).await.unwrap();
    // A two-minute short test takes 0.2 s of real time at 600×.
    let started = Instant::now();
    let answer = client
        .call(
            "smart.test.manual_test",
            json!([[{"identifier": disk["identifier"], "type": "SHORT"}]]),
        )
        .await
        .unwrap();
    let job = answer[0]["job"].as_u64().unwrap();
    loop {
        let state =
            client.call("core.get_jobs", json!([[["id", "=", job]], {"get": true}])).await.unwrap();
        if state["state"] == "SUCCESS" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the test did not finish at 600×");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(190), "finished faster than 120 s / 600");
}

#[tokio::test]
async fn a_plain_api_key_over_an_insecure_link_is_revoked() {
    // Bound to a non-loopback address, a plain ws:// login is "insecure transport" and TrueNAS
    // revokes the key (reference §1.2). Loopback is secure, so use the machine's own address.
    let Some(ip) = local_non_loopback_ip() else { return };
    let mut config = Config::new(scenario(vec![host("lan", Personality::Scale2510)]));
    config.bind = ip;
    let sim = burnin_simulator::start(config).await.unwrap();
    let mut client = Client::jsonrpc(&sim.hosts[0].api_url()).await;
    let answer = client
        .call(
            "auth.login_ex",
            json!([{"mechanism": "API_KEY_PLAIN", "username": "root", "api_key": KEY}]),
        )
        .await
        .unwrap();
    assert_eq!(answer["response_type"], "EXPIRED");
    assert!(sim.hosts[0].with(|state| state.api_key_revoked));
}

fn local_non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("10.255.255.255:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn a_tls_host_serves_wss_with_its_self_signed_certificate() {
    use std::sync::Arc;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, pki_types::CertificateDer};
    use tokio_tungstenite::{Connector, connect_async_tls_with_config};

    let mut spec = host("secure", Personality::Scale2510);
    spec.tls = true;
    let sim = burnin_simulator::start(Config::new(scenario(vec![spec]))).await.unwrap();
    let host = &sim.hosts[0];
    assert!(host.api_url().starts_with("wss://"));
    let der = host.tls_certificate_der.clone().unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(der)).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let url = format!("wss://localhost:{}/api/current", host.api_addr.port());
    let (mut socket, _) =
        connect_async_tls_with_config(url, None, false, Some(Connector::Rustls(Arc::new(config))))
            .await
            .unwrap();
    use futures_util::{SinkExt, StreamExt};
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            r#"{"jsonrpc":"2.0","id":1,"method":"core.ping"}"#.into(),
        ))
        .await
        .unwrap();
    let reply = socket.next().await.unwrap().unwrap();
    assert!(reply.to_text().unwrap().contains("pong"));

    // Without trusting the certificate, the handshake fails.
    let untrusting = tokio_tungstenite::connect_async(format!(
        "wss://localhost:{}/api/current",
        host.api_addr.port()
    ))
    .await;
    assert!(untrusting.is_err());
}
