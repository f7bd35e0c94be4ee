//! `[session] sign_out_on_lock`: locking the desktop signs the agent out, for desks shared
//! under one OS account. Never during a call: the sign-out waits until the call ends, and
//! happens then only if the desktop is still locked. The app reads the lock state (it differs
//! by OS) and feeds it to [`LockWatch`]; the engine's `desktop_locked` does the sign-out.

/// What the engine did about a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOutcome {
    SignedOut,
    /// Nobody was signed in, and nothing was saved: nothing to do.
    NotSignedIn,
    /// A call is under way: nothing was done; ask again later.
    CallUnderWay,
}

/// One lock, one sign-out: acts when the desktop is locked and it has not acted for this lock
/// (or only postponed for a call), forgets at unlock. An unknown state does nothing.
#[derive(Debug, Default)]
pub struct LockWatch {
    done_for_this_lock: bool,
}

impl LockWatch {
    /// The lock state just read (None: this desktop does not say). True: act now.
    pub fn observe(&mut self, locked: Option<bool>) -> bool {
        match locked {
            Some(true) => !self.done_for_this_lock,
            Some(false) => {
                self.done_for_this_lock = false;
                false
            }
            None => false,
        }
    }

    /// What acting did: a postponed sign-out is tried again at the next locked reading.
    pub fn acted(&mut self, outcome: LockOutcome) {
        self.done_for_this_lock = outcome != LockOutcome::CallUnderWay;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sign_out_per_lock_postponed_through_a_call_and_forgotten_at_unlock() {
        let mut watch = LockWatch::default();
        assert!(!watch.observe(Some(false)));
        assert!(!watch.observe(None), "an unknown state never signs out");
        // Locked during a call: postponed, tried again while locked.
        assert!(watch.observe(Some(true)));
        watch.acted(LockOutcome::CallUnderWay);
        assert!(watch.observe(Some(true)));
        watch.acted(LockOutcome::SignedOut);
        // Done for this lock.
        assert!(!watch.observe(Some(true)));
        assert!(!watch.observe(None));
        assert!(!watch.observe(Some(true)));
        // Unlocked, then locked again: a new lock.
        assert!(!watch.observe(Some(false)));
        assert!(watch.observe(Some(true)));
        watch.acted(LockOutcome::NotSignedIn);
        assert!(!watch.observe(Some(true)));
        // A call ends after the desktop was unlocked: nothing happens.
        let mut watch = LockWatch::default();
        assert!(watch.observe(Some(true)));
        watch.acted(LockOutcome::CallUnderWay);
        assert!(!watch.observe(Some(false)));
        assert!(!watch.observe(Some(false)));
    }
}
