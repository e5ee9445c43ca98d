package org.rnn4j.cli;

import java.util.concurrent.Callable;
import org.rnn4j.Device;
import org.rnn4j.cuda.AlgorithmChoice;
import picocli.CommandLine.Command;

/** {@code info}: the version, the devices found, and why CUDA is or is not usable. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print the version, the devices found and why CUDA is or is not usable.")
final class InfoCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        System.out.println("rnn4j " + Version.get());
        System.out.println("CPU engine: " + Device.cpu().engine().describe());
        System.out.println("CUDA:");
        for (String line : Device.cudaStatus().split("\n")) {
            System.out.println("  " + line);
        }
        System.out.println("  " + AlgorithmChoice.policy());
        Device best = Device.best();
        System.out.println("Device.best(): " + best + " (" + best.selectionNote() + ")");
        return 0;
    }
}
