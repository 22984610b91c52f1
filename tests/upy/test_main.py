# The firmware's run (app/main.py): an error no task caught ends the firmware, whichever task it
# ended, as the gathered tasks' errors did; a cancelled task does not. MicroPython's asyncio
# raises out of asyncio.run from the loop's exception handler (CPython's logs what its handler
# raises and runs on, so there these tests check only the handler).
import asyncio

from app import main
from support import IS_MICROPYTHON


def test_the_handler_raises_the_error_that_ended_a_task():
    error = ValueError("a service's bug")
    try:
        main._crashed(None, {"message": "Task exception wasn't retrieved", "exception": error})
    except ValueError as e:
        assert e is error
    else:
        raise AssertionError("the handler let the error go")


def test_an_error_in_any_task_ends_the_run_and_a_cancelled_task_does_not():
    if not IS_MICROPYTHON:
        return
    ran = []

    async def service(fails):
        await asyncio.sleep_ms(20)
        if fails:
            raise ValueError("a service's bug")

    async def idle():
        await asyncio.sleep_ms(1000)

    async def run(fails):
        asyncio.get_event_loop().set_exception_handler(main._crashed)
        cancelled = asyncio.create_task(idle())
        asyncio.create_task(service(fails))
        await asyncio.sleep_ms(5)
        cancelled.cancel()
        for _ in range(5):
            await asyncio.sleep_ms(20)
        ran.append(fails)

    asyncio.run(run(False))  # a cancelled task and one that ended well: the run goes on to its end
    try:
        asyncio.run(run(True))
    except ValueError as e:
        assert str(e) == "a service's bug"
    else:
        raise AssertionError("the failed task did not end the run")
    assert ran == [False]
    asyncio.get_event_loop().set_exception_handler(None)


def test_the_tasks_of_the_start_go_on_beside_the_health_task():
    # app.main runs the start with asyncio.run, then the health task with another: the tasks the
    # start made run on under the second, and an error that ends one of them ends the firmware.
    if not IS_MICROPYTHON:
        return
    beats = []

    async def service():
        while True:
            beats.append(1)
            await asyncio.sleep_ms(10)

    async def failing():
        await asyncio.sleep_ms(100)
        raise ValueError("a service's bug")

    async def start():
        asyncio.get_event_loop().set_exception_handler(main._crashed)
        asyncio.create_task(service())
        asyncio.create_task(failing())

    async def health():
        await asyncio.sleep_ms(1000)

    asyncio.run(start())
    try:
        asyncio.run(health())
    except ValueError as e:
        assert str(e) == "a service's bug"
    else:
        raise AssertionError("the failed task did not end the run")
    assert len(beats) >= 5
    asyncio.get_event_loop().set_exception_handler(None)
