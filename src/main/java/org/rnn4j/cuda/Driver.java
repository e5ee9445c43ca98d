package org.rnn4j.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The native boundary of the driver API: loading JCuda's natives once (remembering why they did
 * not load), turning statuses into exceptions, and the small pointer subclasses that give the raw
 * {@code long} values JCuda keeps in protected fields.
 */
final class Driver {

    private static boolean loadTried;
    private static String loadFailure;

    private Driver() {
    }

    /**
     * Loads JCuda's driver natives once ({@code libJCudaDriver}, which links {@code libcuda.so.1}).
     *
     * @return {@code null} when loaded, otherwise a one-line reason. A failed class initialisation
     *         cannot be retried (the JVM then only says "Could not initialize class"), so the first
     *         reason is kept.
     */
    static synchronized String loadFailure() {
        if (!loadTried) {
            loadTried = true;
            try {
                JCudaDriver.setExceptionsEnabled(false);   // first use: runs the static initialiser
            } catch (Throwable t) {
                loadFailure = conciseLinkError(t);
            }
        }
        return loadFailure;
    }

    private static final Pattern SHARED_OBJECT = Pattern.compile(
            "([\\w.+-]+\\.so[\\w.]*: (?:cannot open shared object file|undefined symbol|version)[^\\n]*)");

    /**
     * The useful line of a native loading error. JCuda's message is a page of nested stack traces;
     * what matters is e.g. {@code libcuda.so.1: cannot open shared object file: No such file or directory}.
     */
    static String conciseLinkError(Throwable t) {
        String message = String.valueOf(t.getMessage());
        Matcher m = SHARED_OBJECT.matcher(message);
        String found = null;
        while (m.find()) {
            found = m.group(1).trim();
        }
        if (found != null) {
            return found;
        }
        String firstLine = message.lines().findFirst().orElse("").trim();
        return t.getClass().getSimpleName() + (firstLine.isEmpty() ? "" : ": " + firstLine);
    }

    /** {@code cuda.h}'s code for "this call needs a newer driver"; not among JCuda 12.6's CUresult constants. */
    static final int CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER = 36;

    /** The name of a {@code CUresult}, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    static String statusName(int status) {
        if (status == CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER) {
            return "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER";
        }
        String s = CUresult.stringFor(status);
        return s == null || s.startsWith("INVALID CUresult") ? "CUresult " + status : s;
    }

    /**
     * What a failed {@code cuInit} means for the user, as " (...)" to append to the status name, or
     * "" when the name says it all. Only driver-API codes: the runtime API's
     * {@code cudaErrorInsufficientDriver} (35) has no driver-API counterpart that {@code cuInit} returns.
     */
    static String initHint(int status) {
        return switch (status) {
            case CUresult.CUDA_ERROR_NO_DEVICE ->
                    " (no CUDA device visible to this process; check CUDA_VISIBLE_DEVICES)";
            case CUresult.CUDA_ERROR_STUB_LIBRARY ->
                    " (the libcuda.so.1 found is the toolkit's stub, not a driver)";
            case CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER ->
                    " (the installed driver is older than the CUDA 12 driver API JCuda needs; update the driver)";
            case CUresult.CUDA_ERROR_SYSTEM_NOT_READY ->
                    " (the driver's services are not running yet, e.g. nvidia-fabricmanager on NVSwitch systems)";
            case CUresult.CUDA_ERROR_SYSTEM_DRIVER_MISMATCH ->
                    " (libcuda.so.1 and the kernel module are different driver versions; reinstall the driver"
                            + " or reboot after an upgrade)";
            case CUresult.CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE ->
                    " (a CUDA forward-compatibility libcuda is installed, but this GPU does not support it;"
                            + " use the driver's own libcuda.so.1)";
            default -> "";
        };
    }

    /**
     * The message for a failed {@code cuModuleLoadData} of {@code resource} on a GPU of {@code arch}
     * (e.g. {@code sm_90}): an image the driver cannot use (invalid, no SASS for this GPU, PTX it cannot
     * JIT or that is newer than the driver) gets the hint to rebuild the kernels or update the driver.
     */
    static String moduleLoadMessage(int status, String resource, String arch) {
        String failed = "cuModuleLoadData(" + resource + ") on " + arch + " failed with " + statusName(status);
        return switch (status) {
            case CUresult.CUDA_ERROR_INVALID_IMAGE, CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU,
                    CUresult.CUDA_ERROR_INVALID_PTX, CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION ->
                    "kernels not usable on " + arch + ": " + failed + " (rebuild the kernels with native/build.sh for "
                            + arch + ", or update the driver)";
            default -> failed;
        };
    }

    /** Throws a {@link CudaException} naming {@code call} unless {@code status} is success. */
    static void check(int status, String call) {
        if (status != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, statusName(status), null);
        }
    }

    /**
     * As {@link #check(int, String)}, with what the call was doing. Where the detail is a concatenation on a
     * per-call path, test the status and throw {@link #failure} instead, so the string is built only then.
     */
    static void check(int status, String call, String detail) {
        if (status != CUresult.CUDA_SUCCESS) {
            throw failure(status, call, detail);
        }
    }

    /** The exception for a failed {@code call}: its status's name and what it was doing. */
    static CudaException failure(int status, String call, String detail) {
        return new CudaException(call, statusName(status), detail);
    }

    /**
     * JCuda's version, from the Maven descriptor its jar carries ({@code META-INF/maven/org.jcuda/jcuda/pom.properties}),
     * which the shaded CLI jar keeps as it is. Not the package's {@code Implementation-Version}: JCuda's
     * manifest has none, and in the shaded jar every package reports rnn4j's.
     */
    static String jcudaVersion() {
        String v = artifactVersion(JCudaDriver.class.getClassLoader(), "org.jcuda", "jcuda");
        return v == null ? "version unknown" : v;
    }

    /** The {@code version} of a Maven artifact's {@code pom.properties} on {@code loader}'s classpath, or null. */
    static String artifactVersion(ClassLoader loader, String groupId, String artifactId) {
        String resource = "META-INF/maven/" + groupId + "/" + artifactId + "/pom.properties";
        try (InputStream in = loader == null ? ClassLoader.getSystemResourceAsStream(resource)
                : loader.getResourceAsStream(resource)) {
            if (in == null) {
                return null;
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version");
            return v == null || v.isBlank() ? null : v.trim();
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }

    /** A device pointer whose raw address can be read ({@code cuMemAlloc} fills it). */
    static final class DevPtr extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }

    /** A stream whose raw {@code CUstream} handle can be handed to a cuBLAS bound through JNA. */
    static final class Stream extends CUstream {
        long handle() {
            return getNativePointer();
        }
    }

    /** A context whose raw {@code CUcontext} handle the direct driver calls take. */
    static final class Context extends CUcontext {
        long handle() {
            return getNativePointer();
        }
    }

    /** A kernel whose raw {@code CUfunction} handle {@code cuLaunchKernel} takes. */
    static final class Function extends CUfunction {
        long handle() {
            return getNativePointer();
        }
    }

    /** An event whose raw {@code CUevent} handle the direct calls take. */
    static final class Event extends CUevent {
        long handle() {
            return getNativePointer();
        }
    }

    /** Pinned host memory ({@code cuMemAllocHost} fills it) whose raw address the direct copies take. */
    static final class HostPtr extends Pointer {
        long address() {
            return getNativePointer();
        }
    }

    /** A JCuda pointer to a raw device address (for JCublas2, which takes {@link Pointer}s). */
    static final class RawPointer extends Pointer {
        RawPointer(long address) {
            super(address);
        }
    }
}
