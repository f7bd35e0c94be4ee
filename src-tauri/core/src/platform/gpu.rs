//! Whether this machine has a GPU the webview can render with: a Linux DRM render node
//! (`/dev/dri/renderD*`) that this user can open. Without one (VDI desktops, Xvfb, most
//! virtual machines) WebKitGTK composites in software, which costs memory and buys nothing,
//! so `[webview] compositing = "auto"` turns compositing off there.

use std::path::Path;

/// Where Linux puts its DRM device nodes.
pub const DRI_DIR: &str = "/dev/dri";

/// Whether this machine has a usable render node (in [`DRI_DIR`]).
pub fn this_machine_has_one() -> bool {
    render_node_usable(Path::new(DRI_DIR))
}

/// Whether `dri_dir` holds a render node (`renderD*`) that can be opened for reading.
pub fn render_node_usable(dri_dir: &Path) -> bool {
    std::fs::read_dir(dri_dir)
        .map(|entries| {
            entries.filter_map(Result::ok).any(|entry| {
                entry.file_name().to_string_lossy().starts_with("renderD")
                    && std::fs::File::open(entry.path()).is_ok()
            })
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_openable_render_node_counts() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!render_node_usable(&dir.path().join("missing")));
        // A display-only card node is not a render node.
        std::fs::write(dir.path().join("card0"), b"").unwrap();
        assert!(!render_node_usable(dir.path()));
        std::fs::write(dir.path().join("renderD128"), b"").unwrap();
        assert!(render_node_usable(dir.path()));
    }
}
