//! Open-model HTTP load generation: requests scheduled at an arrival rate, latency measured from each request's intended start.
