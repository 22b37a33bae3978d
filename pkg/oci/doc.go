// Package oci is the only code in tierpack that talks to an oras.Target or
// a content store: everything above it (artifact, sign, promotion, index,
// plugin/dist) builds blobs and manifests and hands them here, and reads
// through here.
//
// What it guarantees:
//
//   - Blobs before manifest, tag last. PushBlobs uploads configs and layers,
//     then child manifests, then the root manifest, and only then writes the
//     tag, so a failed push never leaves a tag pointing at missing content.
//     Content the target already has is not uploaded again.
//   - Retries with backoff on transient errors only: network failures,
//     stalls, truncated bodies, and registry answers 408, 429 and 5xx are
//     tried again (DefaultAttempts, backoff from 250ms to 4s); anything else
//     fails at once. The HTTP client underneath already retries requests it
//     can replay; this covers what it cannot, such as a connection reset in
//     the middle of a body, which needs a fresh upload or download.
//   - Every fetch is size-limited and digest-verified. Manifests and other
//     JSON are read whole only up to a limit (MaxManifestSize unless told);
//     streamed blobs end in an error, not EOF, when their content does not
//     match the descriptor, so an atomic writer never renames them into
//     place.
//   - Deterministic manifests. Manifests are built by Manifest, Index and
//     JSONBlob from exactly what the caller gives, so the same input always
//     has the same digest and a re-push is a no-op. oras.PackManifest is
//     not used for that: it stamps org.opencontainers.image.created with the
//     current time when the caller gives none, which would give every push a
//     new digest. It remains the right tool for referrers that carry their
//     own time anyway (promotion records).
//   - No referrer is missed. Referrers asks the referrers API (or the
//     store's graph) and the referrers tag schema, and reads candidates
//     listed under an empty or foreign artifactType to learn their real
//     one. Copy carries an artifact with its children, all their referrers
//     and cosign's legacy tags between any two targets.
package oci
