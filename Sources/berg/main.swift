import ArgumentParser
import BERG
import Foundation

struct Berg: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berg",
        abstract: "Brain Encoding Response Generator: in silico brain responses from encoding models.",
        version: BERG.version,
        subcommands: [
            ListCommand.self,
            CatalogCommand.self,
            DescribeCommand.self,
            CardCommand.self,
            RegistryCommand.self,
            MetadataCommand.self,
            EncodeCommand.self,
            PlanCommand.self,
            RunTaskCommand.self,
            StatusCommand.self,
            MergeCommand.self,
            AttributeCommand.self,
            DreamCommand.self,
            FeaturesCommand.self,
            FitCommand.self,
            StimuliCommand.self,
            GetModelCommand.self,
            CacheCommand.self,
            Bench.self,
            BenchFWRFCommand.self,
            BenchGradientCommand.self,
            InspectCommand.self,
            RSACommand.self,
            PublishCommand.self,
            VerifyCommand.self,
            SiteCommand.self,
        ])

    /// Parses and runs, and turns every failure into one `error:` line and an exit status.
    static func runReportingErrors() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch {
            Foundation.exit(ErrorReport.report(error))
        }
    }
}

// Process-wide settings for long compute runs (allocator, OpenBLAS's pool): the library
// never applies them itself; the command line opts in.
BERG.applyProcessTuning()
Berg.runReportingErrors()
