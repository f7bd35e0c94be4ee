// The floor's "page ready": the same moment Agent Shell's sign-in screen reports (its script
// running and asking the shell for something).
window.__TAURI_INTERNALS__.invoke("ready");
