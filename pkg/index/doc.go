// Package index builds, stores, publishes and searches tierpack indexes:
// YAML catalogues of the contributions in a set of OCI repositories, in the
// spirit of falcoctl's index.yaml, so that users can find artifacts by name,
// text, type and tier without walking registries themselves.
//
// # Format
//
// An index is one YAML document (JSON is the same shape):
//
//	apiVersion: tierpack.dev/v1         # the schema version; readers refuse others
//	kind: Index
//	entries:                            # sorted by name, then repository
//	  - name: falco-debug-bundle        # dev.tierpack.name (else the title)
//	    type: script                    # dev.tierpack.type: the plugin that unpacks it
//	    tier: official                  # the latest version's tier; absent = untiered
//	    repository: ghcr.io/org/falco-debug-bundle   # a tierpack reference, no tag
//	    latest: 1.2.0                   # see "Latest version" below
//	    description: Collect Falco's logs ...
//	    license: Apache-2.0
//	    source: https://github.com/falcosecurity/falco-debug-bundle
//	    homepage: https://github.com/falcosecurity/falco-debug-bundle
//	    keywords: [falco, debug]        # only when the artifact records some
//	    maintainers:                    # OWNERS approvers, reviewers, then authors
//	      - {name: alice, role: approver}
//	      - {name: Jane Maintainer, email: jane@example.org, role: author}
//	    versions:                       # newest first, by semver precedence
//	      - version: 1.2.0              # org.opencontainers.image.version (else the tag)
//	        tags: [1.2.0, latest]       # every tag pointing at this digest, sorted
//	        digest: sha256:...          # the manifest or image index
//	        tier: official
//	        created: "2025-01-02T03:04:05Z"   # org.opencontainers.image.created, if set
//	        revision: 9c1e4b7           # org.opencontainers.image.revision, if set
//
// Entry-level fields other than versions describe the latest version. A
// version is pulled as REPOSITORY:TAG (Entry.Reference), so the tierpack
// reference forms apply: HOST/REPO for a registry, oci:PATH for a layout
// (the path as given to Build) and a bare NAME for the local store.
//
// Build writes nothing that varies between runs: no generation time, sorted
// entries, versions, tags and maps, so rebuilding an unchanged set of
// repositories gives a byte-identical file. Readers ignore fields they do
// not know, so later tierpack versions can add fields within tierpack.dev/v1.
//
// # Latest version
//
// Versions are ordered by semantic-version precedence (build metadata is
// ignored, ties go by tag). The latest version is the highest release; a
// pre-release (1.3.0-rc.1) is latest only when there is no release, and a
// version that is not semver only when no version is.
//
// # Which tags are indexed
//
// Every tag of each repository is resolved, except tags that hold
// signatures and referrers rather than contributions: cosign's
// sha256-<hex>.sig, .att and .sbom tags, and the sha256-<hex> tags of the
// OCI referrers tag-schema fallback. Tags whose manifest is not a tierpack
// contribution (no dev.tierpack.type annotation and not a Helm chart) or is
// a published index are left out and reported through Builder.Skipped.
//
// # Search
//
// Search matches text case-insensitively against names, descriptions and
// keywords, a type exactly, and a tier "at least", like `tierpack pull
// --tier`: official satisfies --tier repository. Query.ExactTier asks for
// exactly that tier instead. The tier filter applies to each version: an
// entry matches when one of its versions does, and the result carries only
// the matching versions, with Latest and Tier recomputed from them.
//
// # Configured indexes
//
// Config keeps the indexes a user added (`tierpack index add`) in
// indexes.yaml in tierpack's data folder. An index comes from a local file
// (read afresh every time), an http(s) URL, or an OCI artifact (artifactType
// MediaType, one layer, published by Push); the last two are cached in the
// data folder's indexes/ folder when added or updated, so search works
// offline.
package index
