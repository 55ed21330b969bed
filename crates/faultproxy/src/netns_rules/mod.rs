//! iptables and tc rules applied inside a network namespace.
