//! Errors a TrueNAS method call can end in, and their two wire forms.

use serde_json::{Value, json};

/// errno values the middleware reports (Linux numbering; CORE reports the same names).
pub mod errno {
    pub const ENOENT: i32 = 2;
    pub const EACCES: i32 = 13;
    pub const EBUSY: i32 = 16;
    pub const EINVAL: i32 = 22;
    pub const ENOTSUP: i32 = 95;
    /// The middleware's own "method not found" errno (`middlewared/service_exception.py`).
    pub const ENOMETHOD: i32 = 204;
    pub const EFAULT: i32 = 14;
}

#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    /// No such method in this release.
    MethodNotFound { method: String },
    /// The call needs an authenticated session.
    NotAuthenticated,
    /// Arguments failed validation: `(attribute, message, errno)` per problem.
    Validation { problems: Vec<(String, String, i32)> },
    /// The method ran and failed.
    Call { errno: i32, errname: &'static str, reason: String },
}

impl CallError {
    pub fn invalid(attribute: &str, message: impl Into<String>) -> CallError {
        CallError::Validation {
            problems: vec![(attribute.to_owned(), message.into(), errno::EINVAL)],
        }
    }

    pub fn call(errno: i32, errname: &'static str, reason: impl Into<String>) -> CallError {
        CallError::Call { errno, errname, reason: reason.into() }
    }

    fn parts(&self) -> (i32, &'static str, String, Value) {
        match self {
            CallError::MethodNotFound { method } => {
                (errno::ENOMETHOD, "ENOMETHOD", format!("Method {method:?} not found"), Value::Null)
            }
            CallError::NotAuthenticated => {
                (errno::EACCES, "EACCES", "Not authenticated".to_owned(), Value::Null)
            }
            CallError::Validation { problems } => {
                let reason = problems
                    .iter()
                    .map(|(attribute, message, _)| format!("[EINVAL] {attribute}: {message}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                let extra = problems
                    .iter()
                    .map(|(attribute, message, errno)| json!([attribute, message, errno]))
                    .collect();
                (errno::EINVAL, "EINVAL", reason, Value::Array(extra))
            }
            CallError::Call { errno, errname, reason } => {
                (*errno, errname, reason.clone(), Value::Null)
            }
        }
    }

    /// The `error` member of a JSON-RPC 2.0 response (reference §1.2, Framing).
    pub fn to_jsonrpc(&self) -> Value {
        let (code, message) = match self {
            CallError::MethodNotFound { .. } => (-32601, "Method does not exist"),
            CallError::Validation { .. } => (-32602, "Invalid params"),
            _ => (-32001, "Method call error"),
        };
        let (error, errname, reason, extra) = self.parts();
        let extra = if extra.is_null() { json!([]) } else { extra };
        json!({
            "code": code,
            "message": message,
            "data": {"error": error, "errname": errname, "reason": reason, "trace": null, "extra": extra},
        })
    }

    /// The `error` member of a legacy `/websocket` result (reference §1.3).
    pub fn to_legacy(&self) -> Value {
        let (error, errname, reason, extra) = self.parts();
        let kind = match self {
            CallError::Validation { .. } => json!("VALIDATION"),
            _ => Value::Null,
        };
        json!({"error": error, "errname": errname, "type": kind, "reason": reason, "trace": null, "extra": extra})
    }
}
