//! A small deterministic generator for property tests (no extra crates): xorshift64*, so each case is
//! reproducible from its seed.

pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value: it is mixed, and never zero).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// A generator that starts from exactly `state` (non-zero).
    pub fn from_state(state: u64) -> Self {
        Self(state.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
