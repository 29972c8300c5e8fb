//! `kill -9` of the daemon while sandboxes are being created and removed, at
//! varying points: after each restart the kernel holds exactly what the
//! daemon plans for its stored state (re-applying changes nothing), and no
//! veth, namespace, rule or listening socket is left over.

mod support;

use std::time::Duration;

use bridgewall::api::sandbox::SandboxCreateResponse;
use support::daemon::{TestDaemon, ok, sleeper};

#[test]
fn crashes_while_sandboxes_come_and_go_leave_nothing_behind() {
    if !support::daemon::can_run() {
        return;
    }
    let mut d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "net"]));
    for round in 0..6u16 {
        let socket = d.socket();
        let worker = std::thread::spawn(move || {
            let client = bridgewall::api::client::Client::new(socket);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for i in 0..4u16 {
                    let name = format!("s{round}-{i}");
                    let port = format!("{}:80", 20000 + round * 10 + i);
                    let req = sleeper(&name, if i % 2 == 0 { "net" } else { "" }, &[&port]);
                    let created: Result<SandboxCreateResponse, _> =
                        client.post("/sandboxes/create", &req).await;
                    if created.is_ok() && i % 2 == 1 {
                        let _ = client.delete(&format!("/sandboxes/{name}?force=1")).await;
                    }
                }
            });
        });
        std::thread::sleep(Duration::from_millis(60 * u64::from(round + 1)));
        d.kill9();
        worker.join().unwrap();
        d.start_again();
        support::converged::sandboxes(&d);
    }
}
