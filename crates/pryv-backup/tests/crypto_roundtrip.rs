//! Any plaintext, written and read in any pieces, comes back identical.

use std::io::{Read, Write};
use std::sync::OnceLock;

use proptest::prelude::*;
use pryv_backup::archive::FileSealer;
use pryv_backup::crypto::Pryvbke1;

fn sealer() -> &'static Pryvbke1 {
    static SEALER: OnceLock<Pryvbke1> = OnceLock::new();
    SEALER.get_or_init(|| Pryvbke1::with_passphrase("round trip").unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn crypto_round_trip_any_size_any_pieces(
        len in prop_oneof![0usize..300, 65_400usize..65_700, 0usize..300_000],
        seed in any::<u8>(),
        write_piece in 1usize..100_000,
        read_piece in 1usize..100_000,
    ) {
        let plain: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed | 1)).collect();
        let mut sealed = Vec::new();
        let mut writer = sealer().seal(Box::new(&mut sealed)).unwrap();
        for piece in plain.chunks(write_piece) {
            writer.write_all(piece).unwrap();
        }
        writer.finish().unwrap();
        // Size is header + one 20-byte overhead per started 64 KiB frame.
        prop_assert_eq!(sealed.len(), 67 + len + len.div_ceil(65_536) * 20);

        let mut reader = sealer().open(Box::new(sealed.as_slice())).unwrap();
        let mut back = Vec::new();
        let mut buf = vec![0u8; read_piece];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        prop_assert!(back == plain);
    }
}
