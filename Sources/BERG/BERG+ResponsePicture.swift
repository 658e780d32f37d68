import BERGCore
import Foundation

extension BERG {
    /// Writes a PNG of a pRF model's responses on the visual field (what `berg encode --picture`
    /// draws). For the retinotopy stimuli (`RetinotopyStimuli`, `berg stimuli retinotopy`) it
    /// shows the maps they measure: eccentricity from the rings, polar angle from the wedges,
    /// x and y position from the bar sweeps, with a colour bar in degrees (a colour wheel for
    /// polar angle). For any other images it shows each image's response over the field
    /// (at most 12 panels). The result's `stimulusNames` tell the two apart.
    ///
    /// Needs a result placed in the visual field (pRF models such as fmri-kay2013-css_prf);
    /// otherwise it throws `BERGError.unsupported`. The file is written under a temporary name
    /// and renamed into place.
    public static func writeResponsePicture(_ result: EncodingResult, to path: String) throws {
        try ResponsePicture.write(result, to: path)
    }
}
