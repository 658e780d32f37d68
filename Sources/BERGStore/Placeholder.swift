import BERGCore
