//! Placeholder: the SSH server (helper-owned).

use std::{path::Path, sync::Arc};

use tokio::net::TcpListener;

use crate::HostCore;

pub type HostKey = ();

pub fn load_or_create_host_key(_path: Option<&Path>) -> Result<HostKey, crate::SimError> {
    Ok(())
}

pub fn public_key_openssh(_key: &HostKey) -> String {
    String::new()
}

pub async fn serve(_host: Arc<HostCore>, _listener: TcpListener, _key: HostKey) {}
