//! Apple configuration profiles read back as a device reads them: the plist parsed by
//! Python's `plistlib`, handed to the test as JSON.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Reads a plist file with Python's `plistlib` and returns it as JSON.
#[track_caller]
pub fn plist_json(python: &Path, plist: &Path) -> Value {
    let script = "import json, plistlib, sys\n\
                  with open(sys.argv[1], 'rb') as f:\n    \
                  print(json.dumps(plistlib.load(f)))";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(plist)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "plistlib refused the profile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("plistlib output is JSON")
}

/// The payload of this type inside the profile.
#[track_caller]
pub fn payload<'a>(profile: &'a Value, kind: &str) -> &'a Value {
    profile["PayloadContent"]
        .as_array()
        .expect("PayloadContent is an array")
        .iter()
        .find(|p| p["PayloadType"] == kind)
        .unwrap_or_else(|| panic!("no {kind} payload in {profile}"))
}
