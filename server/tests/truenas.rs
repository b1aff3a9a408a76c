//! The TrueNAS API client against simulated hosts over real sockets: dialect discovery, login,
//! certificate trust, faults, events.

use std::time::Duration;

use burnin_server::truenas::{
    Client, ClientOptions, Dialect, Endpoint, TlsTrust, TrueNasError, fingerprint,
    probe_certificate,
};
use burnin_simulator::{
    Config, DriveSpec, Faults, HostSpec, Personality, Protocol, Scenario, SimHost, Simulator,
};
use serde_json::json;

const KEY: &str = "1-ClientTestKey0123";

fn drive(serial: &str) -> DriveSpec {
    DriveSpec {
        serial: serial.into(),
        model: "ST12000NM0008-2H3101".into(),
        size_bytes: 12_000_000_000_000,
        protocol: Protocol::Ata,
        rotation_rpm: 7200,
        wwn: None,
        devname: None,
        idle_temperature_c: 33.0,
        power_on_hours: 10,
        throughput_mb_s: 200.0,
        physical_sector_bytes: 4096,
        behaviours: Vec::new(),
        slot: None,
    }
}

fn host(name: &str, personality: Personality, tls: bool) -> HostSpec {
    HostSpec {
        name: name.into(),
        personality,
        api_key: KEY.into(),
        api_user: "root".into(),
        tls,
        ssh_user: "root".into(),
        authorized_keys: Vec::new(),
        drives: vec![drive("CLIENT01"), drive("CLIENT02")],
        pools: Vec::new(),
        exported_pools: Vec::new(),
        boot_drives: Vec::new(),
    }
}

async fn sim(hosts: Vec<HostSpec>) -> Simulator {
    burnin_simulator::start(Config::new(Scenario { seed: 3, speed: 1.0, hosts })).await.unwrap()
}

fn plain(host: &SimHost, key: &str) -> Endpoint {
    Endpoint {
        url: host.api_url(),
        api_user: "root".into(),
        api_key: key.into(),
        trust: TlsTrust::PlainLoopback,
    }
}

fn secure(host: &SimHost, trust: TlsTrust) -> Endpoint {
    Endpoint {
        url: format!("wss://localhost:{}", host.api_addr.port()),
        api_user: "root".into(),
        api_key: KEY.into(),
        trust,
    }
}

fn quick() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(3),
        call_timeout: Duration::from_secs(2),
        keepalive_interval: Duration::from_millis(200),
    }
}

#[tokio::test]
async fn each_release_gets_its_dialect_and_lists_its_drives() {
    let sim = sim(vec![
        host("s2504", Personality::Scale2504, false),
        host("s2510", Personality::Scale2510, false),
        host("s26", Personality::Scale26, false),
        host("core", Personality::Core13, false),
    ])
    .await;
    for (host, dialect) in sim.hosts.iter().zip([
        Dialect::JsonRpc,
        Dialect::JsonRpc,
        Dialect::JsonRpc,
        Dialect::Legacy,
    ]) {
        let client = Client::connect(&plain(host, KEY), &quick()).await.unwrap();
        assert_eq!(client.dialect(), dialect, "{}", host.name());
        assert_eq!(client.hostname(), Some(host.name()));
        let disks =
            client.call("disk.query", json!([[], {"extra": {"pools": true}}])).await.unwrap();
        assert_eq!(disks.as_array().unwrap().len(), 2, "{}", host.name());
    }
}

#[tokio::test]
async fn a_wrong_key_is_refused_on_both_dialects_without_echoing_it() {
    let sim = sim(vec![
        host("scale", Personality::Scale2510, false),
        host("core", Personality::Core13, false),
    ])
    .await;
    for host in &sim.hosts {
        let error =
            Client::connect(&plain(host, "1-WrongKeyMaterial99"), &quick()).await.unwrap_err();
        assert!(matches!(error, TrueNasError::WrongKey), "{error:?}");
        assert!(!format!("{error} {error:?}").contains("WrongKeyMaterial99"));
    }
}

#[tokio::test]
async fn a_missing_method_is_told_apart_from_a_failed_call() {
    let sim = sim(vec![host("scale", Personality::Scale2510, false)]).await;
    let client = Client::connect(&plain(&sim.hosts[0], KEY), &quick()).await.unwrap();
    assert!(matches!(
        client.call("smart.test.results", json!([])).await,
        Err(TrueNasError::MethodMissing { .. })
    ));
    let failed = client.call("disk.details", json!([{"type": "NONSENSE"}])).await.unwrap_err();
    assert!(matches!(failed, TrueNasError::Call { .. }), "{failed:?}");
}

#[tokio::test]
async fn a_pinned_certificate_is_trusted_and_any_other_refused() {
    let sim = sim(vec![host("tls", Personality::Scale2510, true)]).await;
    let host = &sim.hosts[0];
    let der = host.tls_certificate_der.clone().unwrap();
    let pin = fingerprint(&der);
    let presented =
        probe_certificate(&format!("wss://localhost:{}", host.api_addr.port())).await.unwrap();
    assert_eq!(presented.sha256_fingerprint, pin);

    let client = Client::connect(
        &secure(host, TlsTrust::Fingerprint(pin.to_lowercase().replace("sha256:", ""))),
        &quick(),
    )
    .await
    .unwrap();
    assert_eq!(client.dialect(), Dialect::JsonRpc);

    let wrong = format!("SHA256:{}", vec!["00"; 32].join(":"));
    let error = Client::connect(&secure(host, TlsTrust::Fingerprint(wrong.clone())), &quick())
        .await
        .unwrap_err();
    match error {
        TrueNasError::UntrustedCertificate { presented, expected } => {
            assert_eq!((presented.as_str(), expected.as_str()), (pin.as_str(), wrong.as_str()));
        }
        other => panic!("expected UntrustedCertificate, got {other:?}"),
    }
}

#[tokio::test]
async fn a_ca_pem_is_trusted_and_a_foreign_one_rejected() {
    let sim = sim(vec![
        host("tls", Personality::Scale2510, true),
        host("other", Personality::Scale2510, true),
    ])
    .await;
    let pem = |der: &[u8]| {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> =
            body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
    };
    let own = pem(sim.hosts[0].tls_certificate_der.as_ref().unwrap());
    let foreign = pem(sim.hosts[1].tls_certificate_der.as_ref().unwrap());
    Client::connect(&secure(&sim.hosts[0], TlsTrust::CaPem(own)), &quick()).await.unwrap();
    let error = Client::connect(&secure(&sim.hosts[0], TlsTrust::CaPem(foreign)), &quick())
        .await
        .unwrap_err();
    assert!(matches!(error, TrueNasError::CertificateRejected { .. }), "{error:?}");
}

#[tokio::test]
async fn plain_ws_to_another_machine_is_refused_before_connecting() {
    let endpoint = Endpoint {
        url: "ws://192.0.2.10:1".into(),
        api_user: "root".into(),
        api_key: KEY.into(),
        trust: TlsTrust::PlainLoopback,
    };
    // 192.0.2.10 is a documentation address: a connection attempt would hang until its
    // timeout and end in another error. This one is only given before any connection.
    let error = Client::connect(&endpoint, &ClientOptions::default()).await.unwrap_err();
    assert!(matches!(error, TrueNasError::InsecureUrl { .. }), "{error:?}");
}

#[tokio::test]
async fn faults_become_clear_errors() {
    let sim = sim(vec![host("flaky", Personality::Scale2510, false)]).await;
    let host = &sim.hosts[0];
    host.set_faults(Faults { api_refuse: true, ..Faults::default() });
    let error = Client::connect(&plain(host, KEY), &quick()).await.unwrap_err();
    assert!(
        matches!(error, TrueNasError::Unreachable { .. } | TrueNasError::Protocol { .. }),
        "{error:?}"
    );
    host.set_faults(Faults { api_http_500: true, ..Faults::default() });
    let error = Client::connect(&plain(host, KEY), &quick()).await.unwrap_err();
    assert!(matches!(error, TrueNasError::Http { status: 500, .. }), "{error:?}");
    assert!(error.to_string().contains("HTTP 500"));
    host.set_faults(Faults::default());
    let client = Client::connect(&plain(host, KEY), &quick()).await.unwrap();
    host.set_faults(Faults { api_delay_ms: 3_000, ..Faults::default() });
    let error = client.call("core.ping", json!([])).await.unwrap_err();
    assert!(matches!(error, TrueNasError::Timeout { .. }), "{error:?}");
}

#[tokio::test]
async fn a_dropped_connection_is_noticed_and_a_new_one_works() {
    let sim = sim(vec![host("drop", Personality::Core13, false)]).await;
    let host = &sim.hosts[0];
    let client = Client::connect(&plain(host, KEY), &quick()).await.unwrap();
    host.drop_api_connections();
    tokio::time::timeout(Duration::from_secs(5), client.closed())
        .await
        .expect("the drop is noticed");
    assert!(client.is_closed());
    assert!(matches!(client.call("core.ping", json!([])).await, Err(TrueNasError::Closed)));
    let again = Client::connect(&plain(host, KEY), &quick()).await.unwrap();
    assert_eq!(again.call("core.ping", json!([])).await.unwrap(), json!("pong"));
}

#[tokio::test]
async fn keepalive_holds_an_idle_connection_and_detects_a_dead_peer() {
    let sim = sim(vec![host("idle", Personality::Scale2510, false)]).await;
    let host = &sim.hosts[0];
    let client = Client::connect(&plain(host, KEY), &quick()).await.unwrap();
    // Several keepalive intervals pass with pings answered.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), client.closed()).await.is_err(),
        "closed while healthy"
    );
    // The peer stops answering in time: the keepalive gives up.
    host.set_faults(Faults { api_delay_ms: 60_000, ..Faults::default() });
    tokio::time::timeout(Duration::from_secs(10), client.closed())
        .await
        .expect("a dead peer is detected");
}

#[tokio::test]
async fn disk_events_arrive_on_26_and_job_events_on_core() {
    let sim = sim(vec![
        host("s26", Personality::Scale26, false),
        host("core", Personality::Core13, false),
    ])
    .await;
    let scale = Client::connect(&plain(&sim.hosts[0], KEY), &quick()).await.unwrap();
    let mut events = scale.events();
    scale.subscribe("disk.query").await.unwrap();
    sim.hosts[0].with(|state| assert!(state.remove_drive("CLIENT02")));
    let event = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let event = events.recv().await.unwrap();
            if event.msg == "removed" {
                return event;
            }
        }
    })
    .await
    .expect("a removed event");
    assert_eq!(event.collection, "disk.query");

    let core = Client::connect(&plain(&sim.hosts[1], KEY), &quick()).await.unwrap();
    let mut jobs = core.events();
    core.subscribe("core.get_jobs").await.unwrap();
    let disk = core
        .call("disk.query", json!([[["serial", "=", "CLIENT01"]], {"get": true}]))
        .await
        .unwrap();
    core.call(
        "smart.test.manual_test",
        json!([[{"identifier": disk["identifier"], "type": "SHORT"}]]),
    )
    .await
    .unwrap();
    let job = tokio::time::timeout(Duration::from_secs(5), jobs.recv())
        .await
        .expect("a job event")
        .unwrap();
    assert_eq!(job.collection, "core.get_jobs");
    assert_eq!(job.fields["method"], "smart.test.wait");
}
