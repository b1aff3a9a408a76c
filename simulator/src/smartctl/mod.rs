//! TEMPORARY STUB (to be replaced by the smartctl emulation being written): answers a minimal
//! smartctl JSON so the rest of the simulator compiles.

use crate::host::HostState;

pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: u32,
}

pub fn run(state: &mut HostState, command: &burnin::remote::Smartctl) -> Output {
    let name = command.device.name().to_owned();
    let Some(drive) = state.drive_by_name(&name) else {
        return Output { stdout: b"{}".to_vec(), stderr: Vec::new(), exit_code: 2 };
    };
    let json = serde_json::json!({
        "json_format_version": [1, 0],
        "smartctl": {"version": [7, 4], "exit_status": 0},
        "device": {"name": command.device.as_str(), "protocol": "ATA"},
        "model_name": drive.spec.model,
        "serial_number": drive.spec.serial,
        "smart_status": {"passed": true},
        "temperature": {"current": drive.temperature()},
        "power_on_time": {"hours": drive.power_on_hours()},
    });
    Output { stdout: json.to_string().into_bytes(), stderr: Vec::new(), exit_code: 0 }
}
