//! Transparent L4 (TCP) fault proxy with runtime-configurable toxics.
