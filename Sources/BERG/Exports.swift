import BERGCompute
import BERGCore
import BERGFormats
import BERGModels
import BERGRegistry
import BERGStore

// The types a user of the library needs, re-exported one by one: `import BERG` gives these
// and the facade, not the modules below it.

// Values and results (BERGCore).
public typealias Tensor = BERGCore.Tensor
public typealias DType = BERGCore.DType
public typealias Stimulus = BERGCore.Stimulus
public typealias Metadata = BERGCore.Metadata
public typealias MetadataValue = BERGCore.MetadataValue
public typealias BERGError = BERGCore.BERGError
public typealias EncodingResult = BERGCore.EncodingResult
public typealias EncodingModel = BERGCore.EncodingModel
public typealias ProgressReporter = BERGCore.ProgressReporter
public typealias Subject = BERGCore.Subject
public typealias Selection = BERGCore.Selection
public typealias Device = BERGCore.Device
public typealias EncodingOptions = BERGCore.EncodingOptions
public typealias OptionValue = BERGCore.OptionValue
public typealias ResponsePlacement = BERGCore.ResponsePlacement
public typealias VolumePlacement = BERGCore.VolumePlacement
public typealias SurfacePlacement = BERGCore.SurfacePlacement
public typealias VisualFieldPlacement = BERGCore.VisualFieldPlacement

// Manifests (BERGRegistry).
public typealias Manifest = BERGRegistry.Manifest
public typealias Preprocessing = BERGRegistry.Preprocessing
public typealias OptionSpec = BERGRegistry.OptionSpec
public typealias ParameterSpec = BERGRegistry.ParameterSpec
public typealias Artifact = BERGRegistry.Artifact
public typealias TensorSpec = BERGRegistry.TensorSpec
public typealias ManifestValue = BERGRegistry.ManifestValue
public typealias Registry = BERGRegistry.Registry
public typealias FileChecksum = BERGRegistry.FileChecksum
public typealias PublishedIndex = BERGRegistry.PublishedIndex
public typealias RegistryList = BERGRegistry.RegistryList
public typealias EncoderSettingsType = BERGRegistry.EncoderSettingsType
public typealias SettingsProblem = BERGRegistry.SettingsProblem

// Encoder kinds (BERGModels): what a separate package needs to add one.
public typealias EncoderContext = BERGModels.EncoderContext
public typealias EncoderKind = BERGModels.EncoderKind
public typealias EncoderKindRegistry = BERGModels.EncoderKindRegistry

// Model files (BERGStore).
public typealias StoreOptions = BERGStore.StoreOptions
public typealias ArtifactResolving = BERGStore.ArtifactResolving
public typealias ArtifactStore = BERGStore.ArtifactStore
public typealias PlannedFile = BERGStore.PlannedFile
public typealias PlannedSize = BERGStore.PlannedSize
public typealias DownloadProgress = BERGStore.DownloadProgress
public typealias CachedFile = BERGStore.CachedFile
public typealias CacheVerification = BERGStore.CacheVerification

// Explaining a model (BERGModels, BERGCompute): input gradients, attribution and dreams.
public typealias DifferentiableEncodingModel = BERGModels.DifferentiableEncodingModel
public typealias ResponseTarget = BERGCompute.ResponseTarget
public typealias IntegrationMethod = BERGCompute.IntegrationMethod
public typealias Attribution = BERGCompute.Attribution
public typealias DreamSettings = BERGCompute.DreamSettings
public typealias DreamResult = BERGCompute.DreamResult
// Movies (BERGFormats): the frames `BERG.loadMovie` samples.
public typealias MovieFrames = BERGFormats.MovieFrames
