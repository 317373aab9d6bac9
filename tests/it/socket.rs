//! The Unix socket's promises: private modes, another uid refused, one instance per socket, clean exit.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{chat, Server};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
}

#[tokio::test]
async fn socket_is_0600_in_a_0700_directory() {
    let s = Server::start().await;
    assert_eq!(mode(&s.socket), 0o600);
    assert_eq!(mode(s.socket.parent().expect("dir")), 0o700);
}

#[tokio::test]
async fn a_second_instance_on_the_same_socket_is_refused() {
    let s = Server::start().await;
    let out = Command::new(env!("CARGO_BIN_EXE_codex-serve"))
        .arg("--socket")
        .arg(&s.socket)
        .arg("--codex-home")
        .arg(s.home.path())
        .stdin(Stdio::null())
        .output()
        .expect("run second");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already listening"), "{err}");
    // The first one still serves.
    assert_eq!(s.post("/v1/chat/completions", chat("x")).await.status, 200);
}

#[tokio::test]
async fn sigterm_exits_cleanly_and_removes_the_socket() {
    let mut s = Server::start().await;
    assert_eq!(s.request("GET", "/healthz", None).await.status, 200);
    let status = s.terminate();
    assert!(status.success(), "{status:?}\n{}", s.logs());
    assert!(!s.socket.exists(), "socket left behind");
}

#[tokio::test]
async fn a_peer_with_another_uid_is_refused() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to run a client as another uid");
        return;
    }
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is required for this test (.ci/run installs it)");
    }
    let s = Server::start().await;
    // Open the path to everyone, so only the peer check stands between uid 65534 and the server.
    std::fs::set_permissions(s.run.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod run");
    std::fs::set_permissions(
        s.socket.parent().expect("dir"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod dir");
    std::fs::set_permissions(&s.socket, std::fs::Permissions::from_mode(0o666))
        .expect("chmod sock");
    let curl = |uid: Option<u32>| {
        let mut c = Command::new("curl");
        c.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            "--unix-socket",
        ])
        .arg(&s.socket)
        .arg("http://localhost/healthz");
        if let Some(uid) = uid {
            use std::os::unix::process::CommandExt;
            c.uid(uid).gid(uid);
        }
        c.output().expect("curl")
    };
    let stranger = curl(Some(65534));
    assert_eq!(
        String::from_utf8_lossy(&stranger.stdout),
        "000",
        "another uid got an answer"
    );
    assert!(!stranger.status.success());
    let me = curl(None);
    assert_eq!(String::from_utf8_lossy(&me.stdout), "200");
    assert!(s.logs().contains("refused a connection from another user"));
}

#[tokio::test]
async fn the_process_makes_no_core_dumps() {
    let s = Server::start().await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", s.pid())).expect("limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core line");
    let soft: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&soft[4..6], ["0", "0"], "{core}");
}
