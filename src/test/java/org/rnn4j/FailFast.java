package org.rnn4j;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * With {@code -Drnn4j.failFast=true} (and JUnit's extension auto-detection, which
 * native/standin/plant-bugs.py turns on), every test after the first failure is skipped: the
 * planted-bug script needs only the first failure of each run. Otherwise it does nothing.
 */
public final class FailFast implements ExecutionCondition, TestWatcher {
    private static final boolean ENABLED = Boolean.getBoolean("rnn4j.failFast");
    private static final AtomicReference<String> FIRST_FAILURE = new AtomicReference<>();

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        String failed = FIRST_FAILURE.get();
        return !ENABLED || failed == null
                ? ConditionEvaluationResult.enabled("no failure yet")
                : ConditionEvaluationResult.disabled("fail-fast: " + failed + " failed");
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        FIRST_FAILURE.compareAndSet(null, context.getUniqueId());
    }
}
