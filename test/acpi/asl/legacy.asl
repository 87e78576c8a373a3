/*
 * The named objects of real firmware besides Device and Name: regions and
 * their fields, legacy Processor/PowerResource/ThermalZone, Mutex, Event,
 * Alias, External, and the operators its methods use. The reader's test
 * compares the namespace with iasl -d and the evaluations with acpiexec.
 */
DefinitionBlock ("", "DSDT", 2, "UDRV", "LEGACY", 0x00000001)
{
    External (\_SB.EXT0, DeviceObj)
    External (\_SB.EXTM, MethodObj)

    Name (GNVA, 0x7FF00000)
    OperationRegion (GNVS, SystemMemory, GNVA, 0x100)
    Field (GNVS, AnyAcc, Lock, Preserve)
    {
        OSYS, 16,
        Offset (0x04),
        HPTE, 8,
        HPTB, 32
    }
    OperationRegion (CMS1, SystemIO, 0x70, 0x02)
    Field (CMS1, ByteAcc, NoLock, Preserve)
    {
        CMSI, 8,
        CMSD, 8
    }
    IndexField (CMSI, CMSD, ByteAcc, NoLock, Preserve)
    {
        Offset (0x10),
        CFG0, 8
    }
    OperationRegion (BNKR, SystemIO, 0x80, 0x04)
    Field (BNKR, ByteAcc, NoLock, Preserve)
    {
        BSEL, 8
    }
    BankField (BNKR, BSEL, 0x01, ByteAcc, NoLock, Preserve)
    {
        Offset (0x01),
        BNK1, 8
    }
    Mutex (MUT0, 0x00)
    Event (EVT0)

    Scope (\_PR)
    {
        Processor (CPU0, 0x00, 0x00000410, 0x06)
        {
            Name (PCTX, Package (0x02) { 0x00, 0x00 })
        }
    }

    PowerResource (PWR0, 0x00, 0x0000)
    {
        Method (_STA, 0, NotSerialized) { Return (One) }
        Method (_ON, 0, NotSerialized) { }
        Method (_OFF, 0, NotSerialized) { }
    }

    Scope (\_TZ)
    {
        ThermalZone (TZ00)
        {
            Method (_TMP, 0, Serialized) { Return (0x0BB8) }
        }
    }

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A08"))
            Name (_CID, EisaId ("PNP0A03"))
            Name (_UID, "PCI0")

            Device (LPCB)
            {
                Name (_ADR, 0x001F0000)

                /* HPET: its base chosen by a GNVS field, as AMI writes it. */
                Device (HPET)
                {
                    Name (_HID, EisaId ("PNP0103"))
                    Name (BUF0, ResourceTemplate ()
                    {
                        Memory32Fixed (ReadOnly, 0xFED00000, 0x00000400, _Y0A)
                    })
                    Method (_STA, 0, NotSerialized)
                    {
                        If (HPTE)
                        {
                            Return (0x0F)
                        }
                        Return (Zero)
                    }
                    Method (_CRS, 0, Serialized)
                    {
                        CreateDWordField (BUF0, \_SB.PCI0.LPCB.HPET._Y0A._BAS, HPT0)
                        Store (HPTB, HPT0)
                        Return (BUF0)
                    }
                }

                /* The RTC: static, with an Alias and CondRefOf at work. */
                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (RBUF, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x08, )
                        IRQNoFlags () {8}
                    })
                    Alias (RBUF, _CRS)
                    Method (_STA, 0, NotSerialized)
                    {
                        If (CondRefOf (\_SB.EXT0))
                        {
                            Return (Zero)
                        }
                        If (CondRefOf (\_SB.PCI0.LPCB.RTC.RBUF, Local0))
                        {
                            Return (0x0F)
                        }
                        Return (0x0B)
                    }
                }

                /* Arithmetic and conversions a _CRS and _UID use. */
                Device (MATH)
                {
                    Name (_HID, "UDRV0201")
                    Method (_UID, 0, NotSerialized)
                    {
                        Divide (0x64, 0x07, Local1, Local0)     /* 14 rem 2 */
                        Store (Mod (0x64, 0x07), Local2)        /* 2 */
                        Store (FindSetLeftBit (0x80), Local3)    /* 8 */
                        Store (FindSetRightBit (0x80), Local4)   /* 8 */
                        Store (ToInteger ("0x10"), Local5)      /* 16 */
                        Add (Local5, ToInteger ("20"), Local5)  /* 36 */
                        Store (Zero, Local6)
                        While (One)
                        {
                            Increment (Local6)
                            If (LLess (Local6, 0x05))
                            {
                                Continue
                            }
                            Break
                        }
                        Store (Or (And (0xF0, 0x3C), XOr (0x0F, 0x05)), Local7)  /* 0x30 | 0x0A */
                        Return (Add (Add (Add (Local0, Local1), Add (Local2, Local3)),
                                     Add (Add (Local4, Local5), Add (Local6, Local7))))
                    }
                    Method (_STA, 0, NotSerialized)
                    {
                        Store (Buffer (0x04) {0x01, 0x02, 0x03, 0x04}, Local0)
                        If (LAnd (LEqual (SizeOf (Local0), 0x04), LNotEqual (ObjectType (Local0), 0x01)))
                        {
                            If (LGreaterEqual (DerefOf (Index (Local0, 0x03)), 0x04))
                            {
                                Return (ShiftRight (0xF0, 0x04))
                            }
                        }
                        Return (Zero)
                    }
                    Method (_CRS, 0, Serialized)
                    {
                        Name (IRQB, ResourceTemplate ()
                        {
                            Interrupt (ResourceConsumer, Level, ActiveLow, Shared, ,, _Y0B) {0x00000010}
                        })
                        CreateDWordField (IRQB, \_SB.PCI0.LPCB.MATH._CRS._Y0B._INT, INTN)
                        CreateField (IRQB, 0x18, 0x08, FLGS)
                        Store (Add (INTN, 0x04), INTN)
                        Store (0x09, FLGS)   /* consumer, level, active high, shared */
                        Return (IRQB)
                    }
                }
            }
        }

        /* Calls of what no table defines: left to the kernel. */
        Device (EXTD)
        {
            Name (_HID, "UDRV0202")
            Method (_STA, 0, NotSerialized)
            {
                Return (\_SB.EXTM ())
            }
            Method (_CRS, 0, NotSerialized)
            {
                Acquire (MUT0, 0xFFFF)
                Release (MUT0)
                Return (ResourceTemplate () { IRQNoFlags () {3} })
            }
        }
    }
}
