//! Talking to a target: REST (auth, cookies, CSRF), Bayeux long-polling, provisioning.
