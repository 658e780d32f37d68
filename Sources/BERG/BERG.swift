@_exported import BERGCore
import BERGRegistry
