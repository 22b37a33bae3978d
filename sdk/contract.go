package sdk

// This file is the vocabulary the host and plugins agree on: the annotation
// keys tierpack writes into manifests and image configs, the media types it
// recognises, and the names of the support tiers. Each is defined here once;
// the host's packages (sdk/tier, pkg/artifact, pkg/owners, pkg/promotion,
// pkg/index, pkg/plugin/dist) and the built-in plugins refer to these
// constants, so a plugin that reads an annotation reads the key the host
// wrote. Changing a value changes the format of every published artifact:
// add keys, never rename them.

// Annotation keys on the manifests tierpack pushes. The host sets them;
// a plugin sees them in UnpackRequest.Annotations.
const (
	// AnnotationTier is the contribution's support tier, one of the Tier*
	// names. An artifact without it is untiered.
	AnnotationTier = "dev.tierpack.tier"
	// AnnotationType is the contribution type, which names the plugin that
	// unpacks the artifact.
	AnnotationType = "dev.tierpack.type"
	// AnnotationName is the contribution's name from tierpack.yaml.
	AnnotationName = "dev.tierpack.name"
	// AnnotationKeywords lists tierpack.yaml's keywords, comma-separated,
	// for indexes and search.
	AnnotationKeywords = "dev.tierpack.keywords"
	// AnnotationWarnings is the number of validation warnings at push,
	// which the official tier's policy reads.
	AnnotationWarnings = "dev.tierpack.warnings"
	// AnnotationOwners is the contribution's OWNERS file as compact JSON,
	// so whoever pulls it sees who supports it.
	AnnotationOwners = "dev.tierpack.owners"
	// AnnotationRequires is tierpack.yaml's requires (contrib.Requires) as
	// compact JSON: the artifacts and runtimes the contribution needs.
	AnnotationRequires = "dev.tierpack.requires"
	// AnnotationRetieredFrom is the digest of the manifest a promotion or
	// demotion re-tiered into this one (tierpack promote). Clients look up
	// the tier records of such a manifest even when it claims contrib, and
	// keep a demotion they find there.
	AnnotationRetieredFrom = "dev.tierpack.retiered-from"
)

// Annotation keys on a promotion record, the referrer that says who moved
// an artifact to another tier.
const (
	// AnnotationPromotionSignature is the record's signature, base64.
	AnnotationPromotionSignature = "dev.tierpack.promotion.signature"
	// AnnotationPromotionKey is the id of the key that signed the record.
	AnnotationPromotionKey = "dev.tierpack.promotion.key"
)

// Annotation keys on a published plugin's image index and manifests
// (`tierpack plugin push`), which `tierpack plugin install` reads before it
// runs anything.
const (
	// AnnotationPluginType is the contribution type the plugin serves.
	AnnotationPluginType = "dev.tierpack.plugin.type"
	// AnnotationPluginProtocols lists the plugin protocol versions it
	// speaks, comma-separated, e.g. "1".
	AnnotationPluginProtocols = "dev.tierpack.plugin.protocols"
	// AnnotationPluginSDKVersion is the version of this sdk it was built
	// with.
	AnnotationPluginSDKVersion = "dev.tierpack.plugin.sdk-version"
	// AnnotationPluginArtifactType is the artifactType of what it packages.
	AnnotationPluginArtifactType = "dev.tierpack.plugin.artifact-type"
	// AnnotationPluginSHA256 is on each platform manifest: the hex sha256
	// of the executable inside its layer, pinned at install.
	AnnotationPluginSHA256 = "dev.tierpack.plugin.sha256"
)

// AnnotationIndexAPIVersion records a published index's apiVersion on its
// manifest, so a reader can tell whether it understands the index before
// fetching it.
const AnnotationIndexAPIVersion = "dev.tierpack.index.apiVersion"

// Image config labels of the exporter type, beside AnnotationTier,
// AnnotationType and AnnotationName, which it copies into labels so that
// `docker inspect` shows them.
const (
	// AnnotationExporterPort is the TCP port the exporter listens on.
	AnnotationExporterPort = "dev.tierpack.exporter.port"
	// AnnotationExporterMetricsPath is the HTTP path it serves metrics on.
	AnnotationExporterMetricsPath = "dev.tierpack.exporter.metrics-path"
)

// Media types plugins produce and the host recognises.
const (
	// MediaTypeLayerTarGzip is the standard OCI gzip layer media type; use it
	// unless an ecosystem fixes another (registries accept it everywhere).
	MediaTypeLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
	// MediaTypeLayerTarZstd is the standard OCI zstd layer media type. A
	// plugin lists it in Description.MediaTypes to be asked for zstd layers
	// (PackageRequest.Compression); keep gzip for content other clients
	// read (Helm charts, container images, falcoctl's artifacts).
	MediaTypeLayerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
	// MediaTypeLayerTar is the standard OCI uncompressed layer media type.
	MediaTypeLayerTar = "application/vnd.oci.image.layer.v1.tar"
	// MediaTypeEmptyJSON is the OCI empty config descriptor's media type.
	MediaTypeEmptyJSON = "application/vnd.oci.empty.v1+json"

	// MediaTypeHelmConfig is a Helm chart's config (its Chart.yaml as
	// JSON), as helm.sh/helm/v3/pkg/registry writes it; `helm pull` needs it.
	MediaTypeHelmConfig = "application/vnd.cncf.helm.config.v1+json"
	// MediaTypeHelmChart is a Helm chart's packaged .tgz.
	MediaTypeHelmChart = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	// MediaTypeHelmProvenance is a Helm chart's provenance file.
	MediaTypeHelmProvenance = "application/vnd.cncf.helm.chart.provenance.v1.prov"

	// MediaTypeDockerManifest is Docker's image manifest (schema 2), which
	// registries still serve for images pushed by older tools.
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	// MediaTypeDockerManifestList is Docker's multi-platform manifest list,
	// the predecessor of the OCI image index.
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	// MediaTypeDockerLayerTarGzip is Docker's gzip layer media type.
	MediaTypeDockerLayerTarGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// The support tiers, as a plugin sees them in Contribution.Tier and
// AnnotationTier. They are ordered TierContrib < TierRepository <
// TierOfficial; an artifact without a tier (TierUntiered, never written into
// an annotation) counts as below TierContrib. The host's typed, ordered
// form is package github.com/tierpack/tierpack/sdk/tier.
const (
	// TierContrib: use at your own risk — scripts, YAML, markdown.
	TierContrib = "contrib"
	// TierRepository: its own repository, a build and a release, and an
	// OWNERS file whose maintainers support it.
	TierRepository = "repository"
	// TierOfficial: core maintainers release and support it.
	TierOfficial = "official"
	// TierUntiered names the absence of a tier in messages and JSON.
	TierUntiered = "untiered"
)

// Tiers returns the tier names a contribution may declare, lowest first.
func Tiers() []string { return []string{TierContrib, TierRepository, TierOfficial} }
