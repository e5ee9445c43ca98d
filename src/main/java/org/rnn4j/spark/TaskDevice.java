package org.rnn4j.spark;

import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.rnn4j.Device;

/**
 * The device a task trains on. With Spark's resource scheduling ({@code spark.executor.resource.gpu.amount},
 * {@code spark.task.resource.gpu.amount} and a discovery script) Spark hands each task the addresses of
 * its GPUs; the task uses the first as the CUDA ordinal. Without a GPU resource it uses the CPU.
 */
final class TaskDevice {
    static final String GPU = "gpu";

    private TaskDevice() {
    }

    /** {@code requested} ({@code auto}, {@code cpu}, {@code cuda:N}) resolved for the running task. */
    static Device choose(String requested, TaskContext ctx) {
        if (!"auto".equals(requested)) {
            return Device.parse(requested);
        }
        return fromResources(ctx == null ? Map.of() : ctx.resourcesJMap());
    }

    /** The GPU among {@code resources}, else the CPU. */
    static Device fromResources(Map<String, ResourceInformation> resources) {
        ResourceInformation gpu = resources.get(GPU);
        if (gpu == null || gpu.addresses().length == 0) {
            return Device.cpu();
        }
        String address = gpu.addresses()[0].trim();
        int ordinal;
        try {
            ordinal = Integer.parseInt(address);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("gpu address: expected a CUDA ordinal (the discovery script's "
                    + "addresses), got '" + address + "'", e);
        }
        try {
            return Device.cuda(ordinal);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("Spark assigned this task GPU " + ordinal + ", but it cannot be used: "
                    + e.getMessage(), e);
        }
    }
}
